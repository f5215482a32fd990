"""Feature engineering for the wine notebook (a local module, not a PyPI package)."""

RATIOS = {
    "flavanoids_per_phenol": ("flavanoids", "total_phenols"),
    "color_per_hue": ("color_intensity", "hue"),
    "proline_per_magnesium": ("proline", "magnesium"),
    "malic_per_ash": ("malic_acid", "ash"),
}


def add_ratios(df):
    """Return a copy of `df` with one ratio column per entry in RATIOS."""
    out = df.copy()
    for name, (num, den) in RATIOS.items():
        out[name] = out[num] / out[den].where(out[den] != 0)
    return out
