"""Long-running outputs of the session (a mixin of `StudioSession`): training runs, dataset
checks and exports (multiview images, video, mesh), each on a worker thread."""
from __future__ import annotations

from pathlib import Path

from fenerf_app import exporting, jobs
from fenerf_app.errors import UserError
from fenerf_app.workers import Task


class Outputs:
    """Needs from the host: run_job, cancel, require_model, require_portrait, average_codes, generator_for,
    trainingMetrics, notice, training_control."""

    # -- training ----------------------------------------------------------------------------
    def check_dataset(self, folder: str | Path) -> Task:
        """Scan a dataset folder on a worker; the task's result is its `DatasetReport`."""
        from models.data.scan import scan_dataset
        folder = Path(folder)
        return self.run_job("dataset", f"Checking {folder.name}", lambda ctx: scan_dataset(folder),
                            None, "Cannot use this dataset")

    def start_training(self, request: jobs.TrainingRequest) -> Task:
        """Start (or, with request.resume, continue) a training run on a worker thread."""
        control = jobs.TrainingControl()
        self.training_control = control
        verb = "Resuming" if request.resume else "Starting"
        task = self.run_job("train", f"{verb} training in {request.run_dir}",
                            lambda ctx: jobs.training_job(request, control, ctx),
                            lambda state: self.notice.emit(f"Training {state}; run folder {request.run_dir}"),
                            "Training failed")
        task.partial.connect(self.trainingMetrics)
        return task

    def stop_training(self) -> None:
        """Stop after the current step; the trainer saves a checkpoint first."""
        self.cancel("train")

    # -- exports -----------------------------------------------------------------------------
    def _export(self, description: str, fn) -> Task:
        model = self.require_model()
        portrait = self.require_portrait()
        codes = portrait.effective_codes(self.average_codes())
        if codes is None:
            raise UserError(f"{portrait.name} has no codes yet: invert it (or press Random) before exporting")
        generator = self.generator_for(portrait)
        return self.run_job("export", f"{description} of {portrait.name}",
                            lambda ctx: fn(generator, model.render_defaults, codes, ctx),
                            lambda written: self.notice.emit(f"Exported {written}"),
                            f"{description} failed")

    def export_multiview(self, options: exporting.MultiviewOptions) -> Task:
        """Images and masks of the current portrait from several yaws, into a folder."""
        return self._export("Multiview export",
                            lambda gen, defaults, codes, ctx: exporting.multiview_job(gen, defaults, codes, options, ctx))

    def export_video(self, options: exporting.VideoOptions) -> Task:
        """A video of the current portrait along a camera trajectory."""
        return self._export("Video export",
                            lambda gen, defaults, codes, ctx: exporting.video_job(gen, defaults, codes, options, ctx))

    def export_mesh(self, options: exporting.MeshOptions) -> Task:
        """A mesh of the current portrait's surface, coloured by labels or RGB."""
        return self._export("Mesh export",
                            lambda gen, defaults, codes, ctx: exporting.mesh_job(gen, defaults, codes, options, ctx))
