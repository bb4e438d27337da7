"""Which of a prompt's loaded models samples: ComfyUI names its model classes, and the text encoders, VAEs and
vision encoders it loads beside the sampling model have names of their own kinds."""

from __future__ import annotations

#: Loads that are not the model that samples: text encoders, VAEs, vision encoders, ControlNets.
NOT_SAMPLING = ("Clip", "CLIP", "TEModel", "AutoencoderKL", "AutoencodingEngine", "VAE", "Vae", "Vision",
                "ControlNet")
#: Of those, the text encoders (``FluxClipModel_``, ``SDXLClipModel``, ``WanTEModel``), not CLIP vision.
TEXT_ENCODERS = ("Clip", "CLIP", "TEModel")


def samples(model: str) -> bool:
    """The model class is one that samples (``Flux``, ``SDXL``, ``Lumina2``, ``WAN21``), not an encoder or VAE."""
    return not any(part in model for part in NOT_SAMPLING)


def encodes_text(model: str) -> bool:
    return any(part in model for part in TEXT_ENCODERS) and "Vision" not in model
