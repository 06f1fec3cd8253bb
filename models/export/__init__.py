"""File exports of a face: multiview images, interpolation videos, coloured meshes and density
volumes. Each is a plain function with progress/cancel callbacks, used by the CLI and the app."""
