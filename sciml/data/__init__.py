"""Data sets: generate, cache, read, normalise, batch."""

from sciml.data.normalise import GaussianNormaliser as GaussianNormaliser
from sciml.data.normalise import NormalisedOperator as NormalisedOperator
