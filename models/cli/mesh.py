"""`fenerf mesh`: coloured meshes (RGB and label colours) and the density volume of each face."""
from __future__ import annotations

import argparse

from models.cli._common import add_model_argument, load_model_from_args, psi_from_args
from models.cli._common import add_face_arguments, faces_from_args


def register(sub) -> None:
    from models.export.mesh import DEFAULT_CUBE, DEFAULT_LEVEL, DEFAULT_RESOLUTION, MESH_FORMATS
    p = sub.add_parser("mesh", help="coloured meshes (PLY/GLB/OBJ) and density volumes (.npy/.mrc)",
                       description="Sample the density on a grid over a cube centred at the origin (like the "
                                   "official shape tool), run marching cubes at --level, colour the vertices by "
                                   "the RGB head (<name>_rgb.*) and by label (<name>_labels.*, official palette).")
    add_model_argument(p)
    add_face_arguments(p)
    p.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION, help="grid vertices per side")
    p.add_argument("--level", type=float, default=DEFAULT_LEVEL, help="density iso-level (raw sigma)")
    p.add_argument("--cube", type=float, default=DEFAULT_CUBE, help="side of the sampled cube (world units)")
    p.add_argument("--formats", choices=MESH_FORMATS, nargs="+", default=["ply", "glb"])
    p.add_argument("--regions", action="store_true", help="also write one label-coloured mesh per region")
    p.add_argument("--volume", choices=("npy", "mrc"), nargs="*", default=["npy", "mrc"],
                   help="density volume files to write (none with an empty list)")
    p.add_argument("--exact", action="store_true",
                   help="evaluate every grid vertex (default: only the occupied region, the rest interpolated)")
    p.add_argument("--psi", type=float, default=None, help="truncation psi (default: the model's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from models.export.mesh import face_mesh, save_mesh, split_by_label
    from models.export.volume_io import save_mrc, save_npy
    from models.render.field_views import FoldedField

    model = load_model_from_args(args)
    faces = faces_from_args(args, model, psi_from_args(args, model))
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{model.name} ({model.kind}): {len(faces)} face(s), {args.resolution}^3 grid over a {args.cube} cube, "
          f"level {args.level:g}")
    for name, codes, gen in faces:
        field = FoldedField(gen, codes[0], lock_view=True)
        with tqdm(total=args.resolution, unit="plane", desc=name) as bar:
            mesh, grid = face_mesh(field, args.resolution, args.level, args.cube, args.exact,
                                   progress=lambda d, _t: bar.update(d - bar.n))
        written = []
        for fmt in args.formats:
            written.append(save_mesh(args.out / f"{name}_rgb.{fmt}", mesh, mesh.rgb))
            written.append(save_mesh(args.out / f"{name}_labels.{fmt}", mesh, mesh.label_rgb()))
        if args.regions:
            for region, part in split_by_label(mesh).items():
                written.append(save_mesh(args.out / f"{name}_region_{region}.{args.formats[0]}", part,
                                         part.label_rgb()))
        label = (f"FENeRF density {name}: origin {grid.origin:g}, spacing {grid.spacing:.6g} world units",)
        if "npy" in args.volume:
            written.append(save_npy(args.out / f"{name}_density.npy", grid.density))
        if "mrc" in args.volume:
            written.append(save_mrc(args.out / f"{name}.mrc", grid.density, labels=label))
        print(f"{name}: {len(mesh.vertices):,} vertices, {len(mesh.faces):,} faces; wrote {len(written)} files")
    return 0
