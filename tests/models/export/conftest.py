"""Faces of the official-format fixture models, folded with the view locked."""
import pytest

from models.field.latents import codes_for_seeds
from models.render.field_views import FoldedField
from tests.models.fixture_models import fixture_model


@pytest.fixture(scope="session")
def model_b(official_fixtures):
    return fixture_model(official_fixtures.generator_b).generator


@pytest.fixture(scope="session")
def field_b(model_b):
    """Seed 3 of the no-grid fixture model (psi 0.7), view locked."""
    return FoldedField(model_b, codes_for_seeds(model_b, [3], 0.7), lock_view=True)
