"""Bootstrapping a generator by supervising its field directly in 3D against the procedural heads.

z_geo drives the heads' shape parameters and z_app their colours (see models/data/head_params.py),
so a generator distilled this way learns cleanly disentangled codes. Used to make the bundled demo
model; the GAN trainer (models/train) can fine-tune the result.
"""
