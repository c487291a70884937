"""Sample statistics of the Burgers data under the candidate laws of the initial condition.

Prints, for ~100 samples solved on 1024 points (nu = 0.1, T = 1), the mean over samples of
the per-sample standard deviation and of max |u| for u0 and u(T), next to the closed-form
pointwise standard deviation of u0 (the sum of the law's eigenvalues over the modes a
1024-point grid holds). The laws:

- ``paper``: the paper's text, N(0, 625 (-Laplacian + 25 I)^-2) (``law = "paper"``).
- ``grf1``: the released generator, GRF1.m with gamma 2.5, tau 7, sigma 49 (``law = "grf1"``).
- ``grf1 (4, 5, 625)``: GRF1.m with gamma 4, tau 5, sigma 625, whose per-mode standard
  deviations (before GRF1's sqrt(2)) are 625 ((2 pi k)^2 + 25)^-2: the paper's formula read
  as the square root of the covariance. These are the parameters others used with the same
  generator for their Burgers data (see benchmarks/results/burgers-data-law.md).

Run: ``python benchmarks/burgers_data_law.py [--samples 100] [--resolution 1024]``.
"""

from __future__ import annotations

import argparse

import numpy as np

from sciml.data.burgers import BurgersConfig, generate_burgers

CANDIDATES = {
    "paper": {"law": "paper"},
    "grf1": {"law": "grf1"},
    "grf1 (4, 5, 625)": {"law": "grf1", "alpha": 4.0, "tau": 5.0, "sigma": 625.0},
}


def closed_form_std(config: BurgersConfig) -> float:
    """Pointwise standard deviation of u0 on ``config``'s fine grid (GRF1's Nyquist rule
    under ``"grf1"``, the FFT sampler's under ``"paper"``)."""
    alpha, tau, sigma = config.law_parameters
    n, length = config.fine_resolution, config.length
    k = np.arange(1, n // 2 + 1)
    lam = sigma**2 * ((2 * np.pi * k / length) ** 2 + tau**2) ** (-alpha) / length
    weights = np.full(k.shape, 2.0)
    if n % 2 == 0:
        weights[-1] = 2.0 if config.law == "grf1" else 1.0
    return float(np.sqrt(np.sum(weights * lam)))


def statistics(config: BurgersConfig) -> dict[str, float]:
    """Mean per-sample std and mean max |.| of u0 and u(T) over the train split."""
    split = generate_burgers(config, batch_size=25)["train"]
    u0, u = split.inputs[:, 0].astype(np.float64), split.outputs[:, 0].astype(np.float64)
    return {
        "u0 std (closed form)": closed_form_std(config),
        "u0 mean std": float(u0.std(axis=-1).mean()),
        "u0 mean max abs": float(np.abs(u0).max(axis=-1).mean()),
        "u(T) mean std": float(u.std(axis=-1).mean()),
        "u(T) mean max abs": float(np.abs(u).max(axis=-1).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--resolution", type=int, default=1024)
    args = parser.parse_args()
    rows = {}
    for name, fields in CANDIDATES.items():
        config = BurgersConfig(
            fine_resolution=args.resolution, subsample=1, n_train=args.samples, n_test=1, **fields
        )
        rows[name] = statistics(config)
    columns = list(next(iter(rows.values())))
    print("| law | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
