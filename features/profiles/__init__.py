"""Point-in-time enterprise profiles and the fact catalogue they follow."""

from features.profiles.build import build_profiles, left_out
from features.profiles.catalogue import FACTS, Fact, fact

__all__ = ["FACTS", "Fact", "build_profiles", "fact", "left_out"]
