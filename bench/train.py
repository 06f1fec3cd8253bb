"""Training-step speed: our trainer's iteration against an official-style iteration, same run,
same networks, same CPU settings.

The official-style iteration (train_double_latent_semantic.py, spec 11.3) differs from ours only in
how it drives the same maths: reals and fakes go through the discriminator in two separate calls,
and the generator step back-propagates into the discriminators' weights too (their gradients are
computed and then thrown away). Ours scores reals and fakes in one call and restricts the
generator backward to the generator's weights. Both use our renderer and networks.

    python bench/train.py [--curriculum cpu_tiny] [--batch B] [--steps 6] [--threads 1] [--write]

--write replaces the `## Trainer` section of bench/RESULTS.md with the printed table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import replace
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.render.renderer import render_training  # noqa: E402
from models.train.curriculum import get_curriculum  # noqa: E402
from models.train.losses import discriminator_loss, generator_loss, pose_penalty, r1_penalty  # noqa: E402
from models.train.step import Nets, StepPlan, plan_step, sample_latents, train_iteration  # noqa: E402
from models.train.trainer import Trainer, TrainSettings  # noqa: E402


class RandomFaces(torch.utils.data.Dataset):
    """Random images and one-hot label maps of one size (the bench times the step, not the data)."""

    def __init__(self, size: int, count: int = 64):
        g = torch.Generator().manual_seed(size)
        self.images = torch.rand(count, 3, size, size, generator=g) * 2 - 1
        ids = torch.randint(0, 19, (count, size, size), generator=g)
        self.labels = torch.stack([(ids == c + 1).float() * 2 - 1 for c in range(18)], 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i], 0


def official_style_iteration(nets: Nets, plan: StepPlan, cur, real_img: torch.Tensor,
                             real_labels: torch.Tensor) -> None:
    """The official code's structure of one iteration (no mixed precision: CPU)."""
    b, m, n_lab = real_img.shape[0], plan.stage.chunk, nets.generator.cfg.num_labels

    def fakes():
        with torch.no_grad():
            z_geo, z_app = sample_latents(b, nets.generator)
            out = [render_training(nets.generator, nets.generator.map_latents(z_geo[i:i + m], z_app[i:i + m]),
                                   plan.opts, **plan.camera) for i in range(0, b, m)]
        return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])

    for d, opt, real, pick in ((nets.d_img, nets.opt_d_img, real_img, lambda f: f[:, n_lab:]),
                               (nets.d_seg, nets.opt_d_seg, torch.cat([real_labels, real_img], 1), lambda f: f)):
        fake, pose = fakes()
        real = real.detach().requires_grad_(True)
        r = d(real, plan.alpha)[0]
        r1 = r1_penalty(r, real, cur.r1_lambda)
        g, _, _, pose_hat = d(pick(fake), plan.alpha)
        loss = discriminator_loss(g, r) + r1 + pose_penalty(pose_hat, pose, cur.pos_lambda)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(d.parameters(), cur.grad_clip)
        opt.step()
    z_geo, z_app = sample_latents(b, nets.generator)
    for i in range(0, b, m):
        image, pose = render_training(nets.generator, nets.generator.map_latents(z_geo[i:i + m], z_app[i:i + m]),
                                      plan.opts, **plan.camera)
        labels, rgb = image[:, :n_lab], image[:, n_lab:]
        g, _, _, ph = nets.d_img(rgb, plan.alpha)
        gs, _, _, phs = nets.d_seg(torch.cat([labels, rgb.detach()], 1), plan.alpha)
        loss = generator_loss(g, plan.topk) + pose_penalty(ph, pose, cur.pos_lambda) + cur.g_seg_loss_lambda * (
            generator_loss(gs, plan.topk) + pose_penalty(phs, pose, cur.pos_lambda))
        loss.backward()
    torch.nn.utils.clip_grad_norm_(nets.generator.parameters(), cur.grad_clip)
    nets.opt_g.step()
    nets.opt_g.zero_grad()
    nets.ema.update(nets.generator.parameters())
    nets.ema2.update(nets.generator.parameters())


def interleaved(fns: dict, steps: int) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved so load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():                         # warm-up
        fn()
    for _ in range(steps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--curriculum", default="cpu_tiny")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=None, help="override the first stage's batch (split 1)")
    parser.add_argument("--write", action="store_true", help="write the Trainer section of bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cur = get_curriculum(args.curriculum)
    if args.batch:
        cur = cur.replace(stages=(replace(cur.stages[0], batch_size=args.batch, batch_split=1),))
    stage = cur.stages[0]
    with tempfile.TemporaryDirectory() as tmp:
        settings = TrainSettings(checkpoint_every=10 ** 9, preview_every=10 ** 9, log_every=10 ** 9)
        trainer = Trainer.start(cur, RandomFaces, Path(tmp) / "run", settings)
        trainer.stream.configure(stage.img_size, stage.batch_size)
        real_img, real_labels = trainer.stream.next()
        plan = plan_step(cur, 0, settings.chunk_points, amp=False)
        results = interleaved({
            "official-style iteration":
                lambda: official_style_iteration(trainer.nets, plan, cur, real_img, real_labels),
            "our iteration": lambda: train_iteration(trainer.nets, plan, cur, real_img, real_labels),
            "our Trainer.step (+data, schedules)": trainer.step}, args.steps)
    images = stage.batch_size
    params = sum(p.numel() for p in trainer.nets.generator.parameters())
    lines = [f"Curriculum `{cur.name}`: generator {params:,} parameters, {stage.img_size} px, batch {stage.batch_size} "
             f"(split {stage.batch_split}), {stage.num_steps}+{stage.num_steps if cur.hierarchical_sample else 0} "
             f"samples/ray; CPU, {torch.get_num_threads()} thread(s), torch {torch.__version__}; median of "
             f"{args.steps} interleaved steps each.", "",
             "| iteration | steps/s | images/s | ms/step |", "|---|---|---|---|"]
    for name, t in results.items():
        lines.append(f"| {name} | {1 / t:.2f} | {images / t:.1f} | {t * 1000:.0f} |")
    ratio = results["official-style iteration"] / results["our iteration"]
    lines += ["", f"Our iteration vs the official-style one, same run: {ratio:.2f}x (1-minute load average "
                  f"{os.getloadavg()[0]:.1f}: the machine is shared, so compare rows, not runs)."]
    print("\n".join(lines))
    if args.write:
        from bench.results import write_section
        write_section("Trainer", "\n".join(lines))

if __name__ == "__main__":
    main()
