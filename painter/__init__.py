"""Paint canvas for CelebAMask-HQ ID masks.

``document``, ``tools``, ``history`` and ``maskio`` are plain numpy (no Qt); ``canvas``,
``palette``, ``toolbar`` and ``window`` are the Qt views. ``python -m painter`` runs it alone.
"""
