"""Curricula: the official stages of spec 2.1, the schedules of spec 11.2, file errors."""
import math

import pytest

from models.field.config import GeneratorConfig
from models.train.curriculum import CurriculumError, Stage, get_curriculum, read_curricula

README = "CelebA_double_semantic_texture_embedding_256_dim_96"


def test_builtin_file_holds_the_official_and_cpu_curricula():
    curricula = read_curricula()
    assert {README, "CelebA_double_semantic", "cpu_tiny", "demo_finetune"} <= set(curricula)
    a, b = curricula[README], curricula["CelebA_double_semantic"]
    assert a.generator == GeneratorConfig.official(grid=True)
    assert b.generator == GeneratorConfig.official(grid=False)
    assert [(s.start, s.batch_size, s.num_steps, s.img_size, s.batch_split) for s in a.stages] == [
        (0, 24, 24, 32, 4), (20000, 48, 24, 64, 4), (50000, 24, 24, 128, 4)]
    assert [(s.gen_lr, s.disc_img_lr, s.disc_seg_lr) for s in b.stages] == [
        (5e-5, 2e-4, 1e-4), (2e-5, 1e-4, 5e-5), (5e-6, 5e-5, 2e-5)]
    for c in (a, b):
        assert (c.fov, c.ray_start, c.ray_end, c.h_stddev, c.v_stddev) == (12.0, 0.88, 1.12, 0.3, 0.155)
        assert (c.r1_lambda, c.pos_lambda, c.g_seg_loss_lambda, c.grad_clip) == (0.2, 15.0, 0.1, 10.0)
        assert c.betas == (0.0, 0.9) and c.mapping_lr_scale == 1.0 and c.swap_lr_on_flip
        assert c.end_step == 500000 and c.fade_steps == 10000 and c.ema_decays == (0.999, 0.9999)
    assert curricula["demo_finetune"].generator is None          # sizes come from --init
    assert curricula["cpu_tiny"].stages[0].img_size <= 32


def test_schedules_follow_the_official_formulas():
    c = get_curriculum(README)
    assert c.stage_at(19999).img_size == 32 and c.stage_at(20000).img_size == 64
    assert c.alpha(0) == 0.0 and c.alpha(5000) == 0.5 and c.alpha(19999) == 1.0
    assert c.alpha(20000) == 0.0 and c.alpha(25000) == 0.5            # fade restarts at each new size
    assert c.nerf_noise(0) == 1.0 and c.nerf_noise(2500) == 0.5 and c.nerf_noise(9000) == 0.0
    assert c.topk_count(0, 6) == 6
    assert c.topk_count(2000 * 10, 6) == math.ceil(0.99 ** 10 * 6)
    assert c.topk_count(10 ** 7, 6) == math.ceil(0.6 * 6)


def test_same_size_stages_continue_the_fade():
    c = get_curriculum("cpu_tiny").replace(fade_steps=10, stages=(
        Stage(0, 4, 6, 16, 1, 1, 1, 1), Stage(5, 2, 6, 16, 1, 1, 1, 1), Stage(8, 2, 6, 32, 1, 1, 1, 1)))
    assert c.alpha(7) == 0.7 and c.alpha(8) == 0.0 and c.alpha(9) == 0.1


def test_file_errors_name_the_file_and_reason(tmp_path):
    with pytest.raises(CurriculumError, match="unknown curriculum 'nope'.*cpu_tiny"):
        get_curriculum("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("[curricula.x]\nstages = [")
    with pytest.raises(CurriculumError, match="bad.toml: not valid TOML"):
        read_curricula(bad)
    bad.write_text('[curricula.x]\nbogus = 1\nstages = []\n')
    with pytest.raises(CurriculumError, match=r"bad.toml: x: unknown keys \['bogus'\]"):
        read_curricula(bad)
    bad.write_text('[curricula.x]\nstages = [{start = 0, batch_size = 5, num_steps = 8, img_size = 24, '
                   'batch_split = 2, gen_lr = 1e-4, disc_img_lr = 1e-4, disc_seg_lr = 1e-4}]\n')
    with pytest.raises(CurriculumError, match="multiple of batch_split.*power of two"):
        read_curricula(bad)
    with pytest.raises(CurriculumError, match="cannot read"):
        read_curricula(tmp_path / "missing.toml")
