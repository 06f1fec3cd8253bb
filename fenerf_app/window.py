"""The main window: paint panel and 3D view side by side, docks (portraits, labels, latent
inspector, inversion), menus and a status bar. It only assembles widgets and forwards user
actions to the session; every failure becomes a dialog."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, QUrl
from PyQt6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PyQt6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMessageBox, QProgressBar,
                             QSplitter, QWidget)

from fenerf_app import export_dialogs
from fenerf_app.errors import attempt, log_file, show_error
from fenerf_app.inspector import LatentInspector
from fenerf_app.inversion_panel import InversionPanel
from fenerf_app.panels import PaintPanel, PortraitList, ViewPanel
from fenerf_app.session import StudioSession
from fenerf_app.training_dialog import TrainingDialog
from fenerf_app.workers import Task
from painter.palette import LabelPalette

PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp);;All files (*)"
MODEL_FILTER = "Models (*.fenerf *generator.pth);;All files (*)"
MASK_FILTER = "ID masks (*.png);;Images (*.png *.jpg *.bmp)"
TASK_TEXT = {"model": "model", "portrait": "portrait", "invert": "inversion", "export": "export",
             "train": "training", "dataset": "dataset check"}


class MainWindow(QMainWindow):
    """FENeRF Studio's window on a `StudioSession`."""

    def __init__(self, model_path: str | None = None, session: StudioSession | None = None,
                 session_folder: str | None = None, load_model: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("FENeRF Studio")
        self.setObjectName("mainWindow")
        self.session = session or StudioSession(self)
        self.paint_panel = PaintPanel(self.session)
        self.view_panel = ViewPanel(self.session)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.paint_panel)
        splitter.addWidget(self.view_panel)
        splitter.setSizes([5500, 4500])           # proportions: the canvas gets a little more
        self.setCentralWidget(splitter)
        self.addToolBar(self.paint_panel.toolbar)
        self.portrait_list = PortraitList(self.session)
        self.palette_widget = LabelPalette()
        self.inspector = LatentInspector(self.session)
        self.inversion_panel = InversionPanel(self.session)
        self.docks = {
            "portraits": self._dock("Portraits", self.portrait_list, Qt.DockWidgetArea.LeftDockWidgetArea),
            "labels": self._dock("Labels", self.palette_widget, Qt.DockWidgetArea.LeftDockWidgetArea),
            "inversion": self._dock("Inversion", self.inversion_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            "inspector": self._dock("Latent inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["inversion"], self.docks["inspector"])
        self.docks["inversion"].raise_()
        canvas = self.paint_panel.canvas
        self.palette_widget.labelSelected.connect(canvas.set_label)
        canvas.labelChanged.connect(self.palette_widget.set_current)
        self.view_panel.paintOverRequested.connect(self.paint_over_view)
        self.training_dialog: TrainingDialog | None = None
        self._build_status_bar()
        self._build_menus()
        self._connect_session()
        self.resize(1400, 860)
        self.resizeDocks([self.docks["portraits"], self.docks["inversion"]], [240, 380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["portraits"], self.docks["labels"]], [150, 500], Qt.Orientation.Vertical)
        self._model_path = model_path
        self._pending_folder = session_folder
        if load_model:
            attempt(self, "Cannot open the model", self.session.open_model, model_path)

    # -- construction ------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower().replace(" ", "_") + "_dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.task_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setVisible(False)
        self.model_label = QLabel("no model")
        bar = self.statusBar()
        bar.addPermanentWidget(self.task_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.model_label)

    def _action(self, menu, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open &photo...", self.choose_photo, "Ctrl+O", "Align a portrait photo and mask it")
        self._action(file_menu, "New &random portrait", lambda: attempt(self, "Cannot create a portrait",
                                                                        self.session.new_random_portrait), "Ctrl+N")
        self._action(file_menu, "Open &mask...", self.choose_mask, tip="Replace the mask by an ID mask file")
        self._action(file_menu, "Open m&odel...", self.choose_model, tip="A .fenerf model or an official generator.pth")
        file_menu.addSeparator()
        self._action(file_menu, "Open &session...", self.choose_session_folder)
        self._action(file_menu, "Save session &as...", self.choose_save_folder)
        file_menu.addSeparator()
        export_menu = file_menu.addMenu("&Export")
        self._action(export_menu, "&Multiview images...", lambda: self.export("multiview"))
        self._action(export_menu, "&Video...", lambda: self.export("video"))
        self._action(export_menu, "M&esh...", lambda: self.export("mesh"))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        edit_menu = bar.addMenu("&Edit")
        controls = self.paint_panel.controls
        edit_menu.addActions([controls.undo_action, controls.redo_action])
        edit_menu.addSeparator()
        self._action(edit_menu, "&Automatic mask", lambda: attempt(self, "No automatic mask", self.session.auto_mask))
        self._action(edit_menu, "&Paint over the rendered mask", self.paint_over_view)
        tools_menu = edit_menu.addMenu("&Tools")
        tools_menu.addActions(list(controls.tool_actions.values()))

        portrait_menu = bar.addMenu("&Portrait")
        self._action(portrait_menu, "&Invert", lambda: self.inversion_panel.start(False), "Ctrl+I")
        self._action(portrait_menu, "Re-invert &geometry", lambda: self.inversion_panel.start(True), "Ctrl+G")
        self._action(portrait_menu, "&Cancel inversion", lambda: self.session.cancel("invert"))
        portrait_menu.addSeparator()
        self._action(portrait_menu, "&Swap appearance with...", self.choose_swap)
        self._action(portrait_menu, "Clo&se portrait", self.close_portrait)

        view_menu = bar.addMenu("&View")
        viewport = self.view_panel.viewport
        for mode in ("image", "mask", "depth", "overlay"):
            self._action(view_menu, f"3D view: {mode}", lambda m=mode: viewport.set_mode(m))
        self._action(view_menu, "&Reset 3D view", viewport.reset_camera, "Ctrl+R")
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())

        train_menu = bar.addMenu("&Train")
        self._action(train_menu, "&Training...", self.show_training, tip="Train or fine-tune a model")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Open the &log folder", self.open_log_folder)
        self._action(help_menu, "&About", self.about)

    def _connect_session(self) -> None:
        session = self.session
        session.errorRaised.connect(lambda title, message: show_error(self, title, message))
        session.notice.connect(lambda message: self.statusBar().showMessage(message, 8000))
        session.modelChanged.connect(self._on_model)
        session.taskStarted.connect(self._on_task_started)
        session.taskProgress.connect(self._on_task_progress)
        session.taskEnded.connect(lambda kind, state: self._show_tasks())
        session.currentChanged.connect(lambda portrait: self.setWindowTitle(
            "FENeRF Studio" if portrait is None else f"{portrait.name} - FENeRF Studio"))

    # -- session -> window -------------------------------------------------------------------
    def _on_model(self, model) -> None:
        self.model_label.setText(f"model: {model.name} ({model.kind})")
        if self._pending_folder:
            folder, self._pending_folder = self._pending_folder, None
            attempt(self, "Cannot open the session", self.session.open_folder, folder)

    def _on_task_started(self, kind: str, text: str) -> None:
        self.statusBar().showMessage(text + "...", 4000)
        self._show_tasks()

    def _on_task_progress(self, kind: str, done: int, total: int, text: str) -> None:
        if kind in ("invert", "portrait", "export", "model"):
            self.progress.setRange(0, max(total, 0))
            self.progress.setValue(min(done, total))
            if text:
                self.progress.setFormat(f"{TASK_TEXT.get(kind, kind)}: {text}")

    def _show_tasks(self) -> None:
        running = [TASK_TEXT.get(kind, kind) for kind in self.session.tasks]
        self.task_label.setText("running: " + ", ".join(running) if running else "")
        self.progress.setVisible(bool(running))
        if running:
            self.progress.setRange(0, 0)
            self.progress.setFormat("%p%")

    # -- user actions ------------------------------------------------------------------------
    def choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a portrait photo", "", PHOTO_FILTER)
        if path:
            attempt(self, "Cannot open the photo", self.session.open_photo, path)

    def choose_mask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an ID mask", "", MASK_FILTER)
        if path:
            attempt(self, "Cannot open the mask", self.session.load_mask_file, path)

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "checkpoints", MODEL_FILTER)
        if path:
            attempt(self, "Cannot open the model", self.session.open_model, path)

    def choose_session_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open an edit session", str(self.session.session_root))
        if folder:
            attempt(self, "Cannot open the session", self.session.open_folder, folder)

    def choose_save_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the session into an empty folder")
        if folder:
            attempt(self, "Cannot save the session", self.session.save_as, folder)

    def paint_over_view(self) -> None:
        frame = self.view_panel.viewport.frame
        if frame is None:
            show_error(self, "Nothing rendered", "the 3D view shows nothing yet: invert the portrait first")
            return
        attempt(self, "Cannot use the rendered mask", self.session.paint_over_render, frame.mask,
                frame.camera.yaw, frame.camera.pitch)

    def choose_swap(self) -> None:
        current = self.session.current
        others = {p.name: p.id for p in self.session.portraits.values() if p is not current}
        if current is None or not others:
            show_error(self, "Cannot swap", "open two portraits with codes to swap their appearance")
            return
        name, ok = QInputDialog.getItem(self, "Swap appearance", f"Swap the appearance of {current.name} with:",
                                        list(others), 0, False)
        if ok:
            attempt(self, "Cannot swap", self.session.swap_appearance, current.id, others[name])

    def close_portrait(self) -> None:
        if self.session.current is not None:
            self.session.close_portrait(self.session.current.id)

    def export(self, kind: str) -> None:
        """Ask for export options, then run the export with a progress dialog."""
        portrait = self.session.current
        name = "portrait" if portrait is None else portrait.name.replace(" ", "_")
        home = Path.home()
        dialogs = {"multiview": (export_dialogs.MultiviewDialog, home / f"{name}_views", self.session.export_multiview),
                   "video": (export_dialogs.VideoDialog, home / f"{name}.mp4", self.session.export_video),
                   "mesh": (export_dialogs.MeshDialog, home / f"{name}.ply", self.session.export_mesh)}
        dialog_class, default, start = dialogs[kind]
        dialog = dialog_class(f"Export {kind}", default, self)
        if dialog.exec() != dialog_class.DialogCode.Accepted:
            return
        self.run_export(kind, lambda: start(dialog.options()))

    def run_export(self, kind: str, start) -> None:
        task = attempt(self, f"Cannot export the {kind}", start)
        if task is not None:
            export_dialogs.progress_dialog(task, f"Exporting the {kind}", self)

    def show_training(self) -> TrainingDialog:
        if self.training_dialog is None:
            self.training_dialog = TrainingDialog(self.session, self)
        self.training_dialog.show()
        self.training_dialog.raise_()
        return self.training_dialog

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file().parent)))

    def about(self) -> None:
        QMessageBox.about(self, "About FENeRF Studio",
                          "FENeRF Studio: 3D-aware portrait editing (FENeRF, CVPR 2022).\n"
                          f"Log file: {log_file()}\nSession: {self.session.folder or 'not saved yet'}")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop every job (a training run saves a checkpoint and can be resumed), save the session."""
        self.view_panel.viewport.scheduler.cancel()
        self.session.shutdown()
        for task in Task.running_tasks():          # the viewport's last frame or bake
            task.wait_finished(5.0)
        super().closeEvent(event)
