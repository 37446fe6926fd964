"""One reader per official archive, behind one interface (see base.ArchiveReader)."""

from __future__ import annotations

from .aircraft import AircraftReader
from .base import TEST, ArchiveImage, ArchiveReader
from .bird import BirdReader
from .car import CarReader
from .dog import DogReader
from .flower import FlowerReader
from .pet import PetReader

READERS: dict[str, type[ArchiveReader]] = {
    reader.dataset: reader for reader in (AircraftReader, BirdReader, CarReader, DogReader, FlowerReader, PetReader)
}

__all__ = ["READERS", "TEST", "ArchiveImage", "ArchiveReader"]
