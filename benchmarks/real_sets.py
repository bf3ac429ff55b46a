"""The real public images in ``../shared/data`` that sample models may learn from.

One owner for three facts about each dataset: which planes it gives, under which licence,
and whether weights trained on it may be shipped. ``scripts/train_sample_model.py`` trains
the shipped models on the shippable sets; ``bench_transfer.py`` holds one dataset out at a
time and trains the other sets (shippable or not: such a model is a measurement, never
shipped).

Every plane is a 2-D array as stored (uint8), split into ``train`` planes (what a model
may learn from, and what a user fine-tunes on in the benchmark) and ``test`` planes
(held out for scoring, never trained on by any model of this project).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
from report_gigadb import SPLIT as GIGADB_SPLIT  # its held-out columns start here

from pssr_nb.io import read_image

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@dataclasses.dataclass(frozen=True)
class RealSet:
    """One real dataset: its planes, licence and whether derived weights may ship."""

    name: str
    specimen: str
    licence: str
    shippable: bool
    load: Callable[[], tuple[list[np.ndarray], list[np.ndarray]]]

    def planes(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(train planes, test planes), read from ``../shared/data``."""
        if not DATA.is_dir():
            raise SystemExit(f"{DATA} not found: real training sets need ../shared/data")
        return self.load()


def _emdiffuse():
    folder = DATA / "emdiffuse_vem_slices"
    names = ("microns", "mouse_liver")
    return (
        [read_image(folder / f"{n}_0.tif").data for n in names],
        [read_image(folder / f"{n}_1.tif").data for n in names],
    )


def _isbi():
    stack = read_image(
        DATA / "isbi2012_sstem_stack" / "isbi2012_train_volume_z00-14_15x512x512.tif"
    ).data
    return list(stack[:12]), list(stack[12:])


def _gigadb():
    folder = DATA / "gigadb_hagen_pairs"
    mito = read_image(folder / "mito-confocal_highsnr.png").data
    nucleus = read_image(folder / "nucleus_highsnr.png").data
    return [mito[:, :GIGADB_SPLIT], nucleus], [mito[:, GIGADB_SPLIT:]]


def _dsb():
    plane = read_image(DATA / "fluorescence_2d_singles" / "stardist_dsb2018_nuclei_img2d.tif").data
    return [np.asarray(plane)], []


def _ctc():
    stack = read_image(DATA / "ctc_fluo_n3dh_cho_4d" / "fluo_n3dh_cho_02_t00-09_TZYX.tif").data
    return list(stack[0]), list(stack[9, 1:4])


SETS: dict[str, RealSet] = {
    s.name: s
    for s in (
        RealSet(
            "EMDiffuse vEM",
            "em",
            "CC BY 4.0 (MICrONS, OpenOrganelle): credit the MICrONS Consortium and Janelia "
            "OpenOrganelle",
            True,
            _emdiffuse,
        ),
        RealSet("ISBI ssTEM", "em", "ISBI 2012 challenge terms, non-commercial", False, _isbi),
        RealSet("GigaDB confocal", "fluorescence", "CC0 (Hagen et al. 2021)", True, _gigadb),
        RealSet("DSB 2018 nuclei", "fluorescence", "CC0 (BBBC038)", True, _dsb),
        RealSet(
            "CTC Fluo-N3DH-CHO",
            "fluorescence",
            "Cell Tracking Challenge terms, research use only",
            False,
            _ctc,
        ),
    )
}


def training_sets(specimen: str, hold_out: str = "") -> list[RealSet]:
    """The sets a model of ``specimen`` trains on.

    Without ``hold_out``: the shippable ones (a shipped model). With it: every set of the
    specimen but that one (a leave-one-dataset-out model, for measurement only).

    >>> [s.name for s in training_sets("em")]
    ['EMDiffuse vEM']
    >>> [s.name for s in training_sets("em", hold_out="EMDiffuse vEM")]
    ['ISBI ssTEM']
    """
    if hold_out and hold_out not in SETS:
        raise SystemExit(f"unknown dataset {hold_out!r}; known: {', '.join(SETS)}")
    mine = [s for s in SETS.values() if s.specimen == specimen]
    if hold_out:
        return [s for s in mine if s.name != hold_out]
    return [s for s in mine if s.shippable]
