"""Measuring binding: Winoground scores, a bag-of-words text tower, and three text encoders compared.

- `winoground_scores` follows Thrush et al. 2022 (Winoground, section 3): in a 2 x 2
  group of images I0, I1 and captions C0, C1, the *text score* asks that each image
  prefer its own caption, the *image score* that each caption prefer its own image,
  the *group score* both. Comparisons are strict, so a tie counts as wrong. Random
  scores get 1/4, 1/4 and 1/6.
- `BagOfWordsCLIP` is open_clip's CLIP with its text transformer replaced by the
  mean of the caption's word embeddings, taken after sorting the token ids: it
  cannot know word order, so two captions with the same words get the very same
  embedding, and every Winoground comparison is a tie.
- `compare` trains the same image tower on the same data with three text
  encoders (bag of words, the plain mini CLIP, the mini CLIP with NegCLIP's hard
  negatives, Yuksekgonul et al. 2023) and scores each on seen and held-out groups,
  in one of two `CONDITIONS`: "clip_like" (the default), where as on the web a
  caption's swap is never in the training data, so plain training never meets it in a
  batch; and "dense", where every swap is, and the plain model learns to bind.
- `shipped` loads the models that `python -m clipviz binding --save assets/` trained
  (the chapter's comparison, without the minutes of training); `score` scores any models.
"""
from __future__ import annotations

import dataclasses
import os

import open_clip
import torch

from .binding import BindingPairs, TwoObjectWorld, WinogroundGroups
from .checkpoint import ASSETS, load_checkpoint
from .encode import encode_images, encode_texts
from .model import ClipBundle, MiniClipConfig, mini_clip, pick_device
from .recipe import TrainConfig, fast_mode
from .train import train

ENCODERS = ("bag_of_words", "plain", "hard_negatives")
BINDING_PRESET = "tiny-p8"  # the model chapter 09's figures and shipped binding models come from: 8x8-pixel patches
# (16 per picture, where two objects sit apart) and two text layers, the tiny preset before issue 18
CHANCE = {"text_score": 1 / 4, "image_score": 1 / 4, "group_score": 1 / 6}  # Winoground, random similarities


def winoground_scores(similarity: torch.Tensor) -> dict[str, float]:
    """Winoground's three scores from the similarities of G groups.

    similarity: (G, 2, 2), similarity[g, i, j] = image i of group g against caption j;
        caption j is the right one for image j.
    Returns {"text_score", "image_score", "group_score"}, fractions in [0, 1]. Ties count as wrong.
    """
    if similarity.ndim != 3 or similarity.shape[1:] != (2, 2):
        raise ValueError(f"need (G, 2, 2) similarities of G groups, got {tuple(similarity.shape)}")
    s = similarity
    text = (s[:, 0, 0] > s[:, 0, 1]) & (s[:, 1, 1] > s[:, 1, 0])  # (G,) each image prefers its own caption
    image = (s[:, 0, 0] > s[:, 1, 0]) & (s[:, 1, 1] > s[:, 0, 1])  # (G,) each caption prefers its own image
    return {"text_score": text.float().mean().item(), "image_score": image.float().mean().item(),
            "group_score": (text & image).float().mean().item()}


def group_similarity(bundle: ClipBundle, groups: WinogroundGroups) -> torch.Tensor:
    """(G, 2, 2) cosine similarities of each group's two images and two captions."""
    n = len(groups)
    images = encode_images(bundle, groups.images.flatten(0, 1)).view(n, 2, -1)  # (G, 2, D)
    texts = encode_texts(bundle, [c for pair in groups.captions for c in pair]).view(n, 2, -1)  # (G, 2, D)
    # an elementwise product and sum, not a matmul: equal captions then give bit-equal scores (a tie)
    return (images[:, :, None, :] * texts[:, None, :, :]).sum(-1)  # (G, 2, 2)


def winoground(bundle: ClipBundle, groups: WinogroundGroups) -> dict[str, float]:
    """Text, image and group score of `bundle` on `groups` (see winoground_scores)."""
    return winoground_scores(group_similarity(bundle, groups))


class BagOfWordsCLIP(open_clip.CLIP):
    """open_clip's CLIP whose text side is the mean of the caption's token embeddings, in no order.

    The image tower, token table, final LayerNorm and text projection are CLIP's own;
    the text transformer and positional embeddings are left unused.
    special_tokens: ids that are not words (open_clip's <start> and <end>); padding is 0.
    """

    def __init__(self, *args, special_tokens: tuple[int, ...] = (49406, 49407), **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer("special_tokens", torch.tensor(special_tokens), persistent=False)

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        # 1) throw the order away: sort each caption's token ids, so any reordering gives the same rows
        words = text.sort(dim=1).values  # (B, L)
        keep = ((words != 0) & ~torch.isin(words, self.special_tokens)).unsqueeze(-1)  # (B, L, 1) real words
        # 2) the mean of the word embeddings, then CLIP's own LayerNorm and projection
        x = (self.token_embedding(words) * keep).sum(1) / keep.sum(1).clamp(min=1)  # (B, W)
        x = self.ln_final(x) @ self.text_projection  # (B, D)
        return torch.nn.functional.normalize(x, dim=-1) if normalize else x


def bag_of_words_clip(preset: "str | MiniClipConfig" = BINDING_PRESET, seed: int = 0, device=None) -> ClipBundle:
    """A mini CLIP (as mini_clip(preset, seed, device)) whose text encoder is a bag of words.

    It starts from the very weights of mini_clip(preset, seed), so its image tower is the
    plain model's, and differs only in how it reads a caption.
    """
    return as_bag_of_words(mini_clip(preset, seed=seed, device="cpu")).to(pick_device(device))


def as_bag_of_words(plain: ClipBundle) -> ClipBundle:
    """The same weights in a BagOfWordsCLIP: how a saved bag-of-words model is read back (its checkpoint
    holds a plain CLIP's config and weights, since the bag of words only changes how they are used)."""
    tok = plain.tokenizer
    model = BagOfWordsCLIP(**plain.config, special_tokens=(tok.sot_token_id, tok.eot_token_id))
    model.load_state_dict(plain.model.state_dict())
    model.visual.preprocess_cfg = plain.model.visual.preprocess_cfg
    return dataclasses.replace(plain, model=model.to(next(plain.model.parameters()).device).eval())


def swap_in_batch(data: BindingPairs, batch_size: int, batches: int = 200, seed: int = 0) -> float:
    """How often plain training meets a caption's swap as a negative: the fraction of the pairs in
    random batches of `batch_size` whose batch also holds one of their swapped captions."""
    generator = torch.Generator().manual_seed(seed)
    found = total = 0
    for _ in range(batches):
        idx = torch.randint(len(data), (min(batch_size, len(data)),), generator=generator).tolist()
        present = {data.captions[i] for i in idx}
        found += sum(any(neg in present for neg in data.negatives[i]) for i in idx)
        total += len(idx)
    return found / total


# The runs of the chapter and of `python -m clipviz binding`; hard_negatives is what (c) adds. They keep
# CLIP's own loss (mask_false_negatives=False): the binding world's captions name everything, so a batch's
# only false negatives are a scene drawn twice, and the chapter's figures were measured this way.
RECIPES = {
    "normal": TrainConfig(steps=1500, batch_size=128, train_images=8000, eval_every=0, mask_false_negatives=False,
                          hard_negatives=128),  # three encoders: 5.3 CPU-minutes on one core (one thread)
    "quick": TrainConfig(steps=300, batch_size=64, train_images=2000, eval_every=0, mask_false_negatives=False,
                         hard_negatives=64),  # fast mode and --quick: 50 CPU-seconds; binding only begins
}

# The two worlds of the chapter, as TwoObjectWorld arguments. They differ in the share of training pairs whose
# batch also holds one of their swapped captions (swap_in_batch), and in how many scenes they train on.
# Measured (RECIPES["normal"], seed 0, 600 groups; group score seen / held-out, `python -m clipviz binding`):
#   clip_like: plain 0.39 / 0.24, hard negatives 0.85 / 0.73;  dense: plain 0.89 / 0.80.
# Both with one caption in twenty only listing the things (TwoObjectWorld's listed_share=0.05, as alt-text does).
# Without those captions the plain model binds more than CLIP does (0.58 / 0.45). Other training seeds of the
# clip_like world (world and weights), 2026-12-04: plain 0.35 / 0.16 and 0.41 / 0.16; hard negatives 0.64 / 0.47
# and 0.62 / 0.38, and 0.71 / 0.53 and 0.64 / 0.41 at 2,500 steps: the fix is weaker at seeds 1 and 2.
CONDITIONS = {  # both with TwoObjectWorld's default listed_share, 0.05: one caption in twenty only lists the things
    "clip_like": dict(swapped_scenes=0.0),  # one scene per swap family (146 scenes): swap share 0 %, as on the web
    "dense": dict(swapped_scenes=1.0),  # all 388 seen scenes, every swap: swap share 13 % at batch 128
}


def condition_world(condition: str = "clip_like", seed: int = 0) -> TwoObjectWorld:
    """The TwoObjectWorld of a named condition ("clip_like" or "dense", see CONDITIONS)."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose one of {sorted(CONDITIONS)}")
    return TwoObjectWorld(seed=seed, **CONDITIONS[condition])


def train_encoder(encoder: str, world: TwoObjectWorld, config: TrainConfig, data: BindingPairs | None = None, *,
                  preset: "str | MiniClipConfig" = BINDING_PRESET, seed: int = 0, device=None, callbacks=()):
    """Train one of the three text encoders (and its image tower) on `world`; returns (bundle, History).

    encoder: "bag_of_words", "plain" (config without hard negatives) or "hard_negatives"
        (config.hard_negatives swapped captions per batch, at least 1).
    data: training pairs; None renders world.dataset("train", config.train_images).
    """
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose one of {ENCODERS}")
    if encoder == "hard_negatives" and config.hard_negatives < 1:
        raise ValueError("the hard_negatives encoder needs config.hard_negatives >= 1, e.g. "
                         "dataclasses.replace(config, hard_negatives=128)")
    data = data if data is not None else world.dataset("train", config.train_images)
    make = bag_of_words_clip if encoder == "bag_of_words" else mini_clip
    bundle = make(preset, seed=seed, device=device)
    if encoder != "hard_negatives":
        config = dataclasses.replace(config, hard_negatives=0)
    history = train(bundle, data, config, callbacks=callbacks or [lambda event: None], eval_sets={}, seed=seed)
    return bundle, history


def score(models: dict[str, ClipBundle], world: TwoObjectWorld, groups: int = 600) -> dict:
    """Winoground scores of each model on `groups` seen and `groups` held-out groups of `world`.

    Returns {name: {"seen": scores, "heldout": scores, "bundle": bundle}}, scores as in winoground().
    """
    tests = {split: world.groups(split, groups) for split in ("seen", "heldout")}
    return {name: {**{split: winoground(bundle, g) for split, g in tests.items()}, "bundle": bundle}
            for name, bundle in models.items()}


def compare(config: TrainConfig | None = None, world: TwoObjectWorld | None = None, *, condition: str = "clip_like",
            groups: int = 600, encoders=ENCODERS, seed: int = 0, device=None,
            preset: "str | MiniClipConfig" = BINDING_PRESET) -> dict:
    """Train each text encoder on the same data with the same image tower; score them Winoground-style.

    config: a TrainConfig (default RECIPES["quick"] in fast mode, else RECIPES["normal"]).
    world: the TwoObjectWorld to train on; None: condition_world(condition, seed).
    groups: Winoground groups per split (seen and held-out compositions).
    Returns {encoder: {"seen": scores, "heldout": scores, "train_seconds": s, "swap_in_batch": share}},
    where scores is {"text_score", "image_score", "group_score"} and share is swap_in_batch of the
    training pairs at config.batch_size (the same for every encoder; hard negatives add their own swaps).
    The trained bundles are in result[encoder]["bundle"].
    """
    config = config or RECIPES["quick" if fast_mode() else "normal"]
    world = world or condition_world(condition, seed)
    data = world.dataset("train", config.train_images)
    share = round(swap_in_batch(data, config.batch_size), 4)
    results = {}
    for encoder in encoders:
        bundle, history = train_encoder(encoder, world, config, data, preset=preset, seed=seed, device=device)
        results[encoder] = {**score({encoder: bundle}, world, groups)[encoder],
                            "train_seconds": round(history.seconds, 1), "swap_in_batch": share}
    return results


def checkpoint_path(encoder: str, condition: str = "clip_like", folder=ASSETS) -> str:
    """Where a shipped binding model lives: assets/binding_plain.pt, assets/binding_dense_plain.pt, ..."""
    if encoder not in ENCODERS or condition not in CONDITIONS:
        raise ValueError(f"no binding model {encoder!r} in condition {condition!r}; encoders are {ENCODERS}, "
                         f"conditions {sorted(CONDITIONS)}")
    return os.path.join(folder, f"binding_{'' if condition == 'clip_like' else condition + '_'}{encoder}.pt")


SHIPPED_MODELS = [("clip_like", e) for e in ENCODERS] + [("dense", "plain")]  # in assets/, 6.9 MB each


def shipped(condition: str = "clip_like", encoders=ENCODERS, device=None) -> dict[str, ClipBundle]:
    """The binding models shipped with clipviz, {encoder: bundle}, trained with RECIPES["normal"] at seed 0
    by `python -m clipviz binding --save assets/` (and `--condition dense --encoders plain` for the dense one)."""
    missing = [e for e in encoders if (condition, e) not in SHIPPED_MODELS]
    if missing:
        raise ValueError(f"clipviz ships no {condition!r} model for {missing}; it ships {SHIPPED_MODELS}. "
                         f"Train one with binding_eval.train_encoder or `python -m clipviz binding`")
    models = {}
    for encoder in encoders:
        bundle = load_checkpoint(checkpoint_path(encoder, condition), device)
        models[encoder] = as_bag_of_words(bundle) if encoder == "bag_of_words" else bundle
    return models


def by_kind(bundle: ClipBundle, groups: WinogroundGroups) -> dict[str, float]:
    """Group score of `bundle` on each swap kind of `groups` ({"colours": ..., "shapes": ..., "relation": ...})."""
    return {kind: winoground(bundle, groups.where(lambda k, r, kind=kind: k == kind))["group_score"]
            for kind in dict.fromkeys(groups.kinds)}


def summary(results: dict) -> str:
    """compare()'s (or score()'s) results as a plain-text table, one row per encoder and split."""
    lines = [f"{'encoder':<16}{'split':<9}{'text':>7}{'image':>7}{'group':>7}{'train s':>9}",
             f"{'chance':<25}" + "".join(f"{CHANCE[s]:>7.3f}" for s in CHANCE)]
    for name, r in results.items():
        for split in ("seen", "heldout"):
            s = r[split]
            lines.append(f"{name:<16}{split:<9}{s['text_score']:>7.3f}{s['image_score']:>7.3f}{s['group_score']:>7.3f}"
                         f"{r.get('train_seconds', '') if split == 'seen' else '':>9}")
    shares = {r["swap_in_batch"] for r in results.values() if "swap_in_batch" in r}
    if shares:
        lines.append(f"pairs whose batch holds one of their swapped captions (swap_in_batch): {shares.pop():.1%}")
    return "\n".join(lines)
