"""Datasets: procedural 3D-consistent labelled heads and the image/mask dataset loaders.

Heads: `head_params.HeadParams` (from_latents / sample), `head_field.head_field` (sdf, label,
colour at world points), `head_field.sample_training_points`, `head_render.render_heads`,
`head_render.frontal_landmarks` and `DEMO_FRAMING_LANDMARKS`; `writer.write_dataset` behind
`fenerf make-dataset`. Loaders: `datasets.SegmentationDataset`, `scan.scan_dataset`,
`scan.convert_colour_masks`, `scan.DatasetError`.
"""
