"""A face of the official-format fixture model B (no latent grid), folded with the view locked."""
import pytest

from models.field.latents import codes_for_seeds
from models.render.field_views import FoldedField
from tests.models.fixture_models import fixture_model


@pytest.fixture(scope="session")
def face_b(official_fixtures):
    """(generator, codes, folded view-locked field) for seed 3 (about 60% of a view opaque), psi 0.7."""
    gen = fixture_model(official_fixtures.generator_b).generator
    codes = codes_for_seeds(gen, [3], 0.7)
    return gen, codes, FoldedField(gen, codes, lock_view=True)
