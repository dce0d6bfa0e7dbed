"""SPECTER2's proximity adapter applied with plain transformers (no ``adapters`` library).

SPECTER2 is ``allenai/specter2_base`` (a BERT) plus a bottleneck adapter (``allenai/specter2``, the proximity
adapter) trained with the ``adapters`` library. That library pins ``transformers~=4.57`` while this project
runs transformers 5.x, so installing it would downgrade the stack. Instead we re-implement the one adapter
shape SPECTER2 uses -- the sequential "Pfeiffer" bottleneck after each layer's feed-forward output -- and load
its saved weights (``pytorch_adapter.bin`` or ``*.safetensors``, keys like
``bert.encoder.layer.3.output.adapters.[PRX].adapter_down.0.weight``).

With ``h`` the feed-forward output (after dense + dropout), ``x`` the layer input, ``LN`` the layer's own
LayerNorm, the adapter configuration (``original_ln_before``, ``residual_before_ln``, ``original_ln_after``, no
adapter LayerNorm) gives:

    y = LN(h + x + W_up · relu(W_down · LN(h + x) + b_down) + b_up)

Without the adapter, BERT computes ``LN(h + x)``. Only this configuration is accepted; anything else in
``adapter_config.json`` is refused with the field that differs.

Example:
    >>> cfg = {"original_ln_before": True, "original_ln_after": True, "residual_before_ln": True,
    ...        "mh_adapter": False, "output_adapter": True, "non_linearity": "relu", "ln_before": False,
    ...        "ln_after": False, "adapter_residual_before_ln": False, "scaling": 1.0, "use_gating": False,
    ...        "phm_layer": False}
    >>> check_adapter_config(cfg)
    []
    >>> check_adapter_config({**cfg, "mh_adapter": True})
    ["mh_adapter: got True, expected False (only SPECTER2's output adapter shape is supported)"]
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

from cancerllm.errors import ResourceError

__all__ = ["SUPPORTED_CONFIG", "apply_bottleneck_adapter", "check_adapter_config"]

# The Pfeiffer / seq_bn values SPECTER2 was trained with; keys absent from a file keep these defaults.
SUPPORTED_CONFIG = {"original_ln_before": True, "original_ln_after": True, "residual_before_ln": True,
                    "mh_adapter": False, "output_adapter": True, "non_linearity": "relu", "ln_before": False,
                    "ln_after": False, "adapter_residual_before_ln": False, "scaling": 1.0, "use_gating": False,
                    "phm_layer": False}
_KEY = re.compile(r"layer\.(\d+)\.output\.adapters\.([^.]+)\.adapter_(down\.0|up)\.(weight|bias)$")


def check_adapter_config(cfg: dict[str, Any]) -> list[str]:
    """Problems (empty = supported) comparing an adapter config against SPECTER2's bottleneck shape."""
    problems = []
    for key, want in SUPPORTED_CONFIG.items():
        got = cfg.get(key, want)
        if isinstance(got, str) and isinstance(want, str):
            got = got.lower()
        if got != want:
            problems.append(f"{key}: got {got!r}, expected {want!r} (only SPECTER2's output adapter shape is supported)")
    return problems


def _read_weights(folder: Path) -> dict[str, Any]:
    import torch

    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_adapter.bin"))
    if not files:
        raise ResourceError(f"--adapter-path: {str(folder)!r} has no pytorch_adapter.bin or *.safetensors; pass the "
                            "downloaded allenai/specter2 adapter folder")
    if files[0].suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(files[0]))
    return torch.load(str(files[0]), map_location="cpu", weights_only=True)


def _adapter_forward(self: Any, hidden_states: Any, input_tensor: Any) -> Any:
    """Replacement ``BertOutput.forward`` with the bottleneck between the FFN and the LayerNorm."""
    h = self.dropout(self.dense(hidden_states))
    base = h + input_tensor
    up = self.adapter_up(self.adapter_down(self.LayerNorm(base)).relu()) * self.adapter_scaling
    return self.LayerNorm(base + up)


def apply_bottleneck_adapter(model: Any, adapter_dir: str | Path) -> int:
    """Insert the adapter saved in ``adapter_dir`` into every BERT layer of ``model``; returns layers patched.

    Raises:
        ResourceError: the folder lacks weights or its weights do not fit the model.
        ConfigError: ``adapter_config.json`` describes another adapter shape.
    """
    import torch

    from cancerllm.errors import ConfigError

    folder = Path(adapter_dir)
    cfg_file = folder / "adapter_config.json"
    if not cfg_file.is_file():
        raise ResourceError(f"--adapter-path: {str(folder)!r} has no adapter_config.json")
    meta = json.loads(cfg_file.read_text())
    cfg = meta.get("config", meta)
    problems = check_adapter_config(cfg)
    if problems:
        raise ConfigError([f"{cfg_file}: {p}" for p in problems])
    per_layer: dict[int, dict[str, Any]] = {}
    names = set()
    for key, tensor in _read_weights(folder).items():
        m = _KEY.search(key)
        if m:  # heads and other tensors (e.g. a classification head) are not used for embeddings
            names.add(m.group(2))
            per_layer.setdefault(int(m.group(1)), {})[f"{m.group(3)}.{m.group(4)}"] = tensor
    if len(names) != 1:
        raise ResourceError(f"--adapter-path: expected weights of exactly one adapter, found {sorted(names)}")
    encoder_layers = model.encoder.layer if hasattr(model, "encoder") else model.bert.encoder.layer
    if set(per_layer) != set(range(len(encoder_layers))):
        raise ResourceError(f"--adapter-path: adapter has layers {sorted(per_layer)}, the model has "
                            f"{len(encoder_layers)}; use the adapter trained for this base model")
    for i, layer in enumerate(encoder_layers):
        out, w = layer.output, per_layer[i]
        hidden, bottleneck = w["up.weight"].shape
        down, up = torch.nn.Linear(hidden, bottleneck), torch.nn.Linear(bottleneck, hidden)
        try:
            down.load_state_dict({"weight": w["down.0.weight"], "bias": w["down.0.bias"]})
            up.load_state_dict({"weight": w["up.weight"], "bias": w["up.bias"]})
        except (KeyError, RuntimeError) as err:
            raise ResourceError(f"--adapter-path: layer {i} weights do not fit ({err})") from None
        if hidden != out.dense.out_features:
            raise ResourceError(f"--adapter-path: adapter width {hidden} != model hidden size {out.dense.out_features}")
        dtype, device = out.dense.weight.dtype, out.dense.weight.device
        out.adapter_down, out.adapter_up = down.to(device, dtype), up.to(device, dtype)
        out.adapter_scaling = float(cfg.get("scaling", 1.0))
        out.forward = types.MethodType(_adapter_forward, out)
    return len(encoder_layers)
