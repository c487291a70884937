"""How large the Burgers targets u(T = 1) are against the inputs u0, by law and viscosity.

At nu = 0.1 on the unit period every Fourier mode decays at least as fast as
exp(-nu (2 pi)^2 t), a factor 0.019 by T = 1, so the targets are about 60 times smaller
than the inputs; a loss that is not scale-free (the MSE of Lu et al.'s FNO script) is
then small beside an L2 weight decay. Statistics over the 48 training samples of each
setting (solved on 1024 points, stored at 128), not the cached paper sets.

    python benchmarks/burgers_output_scale.py
"""

from __future__ import annotations

import numpy as np

from sciml.data.burgers import BurgersConfig, generate_burgers

SETTINGS = ((0.1, 0.01), (0.01, 0.001), (0.001, 0.0005))  # (nu, dt)


def main() -> None:
    print("| law | nu | dt | std u0 | std u(1) | ratio | max abs u(1) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for law in ("paper", "grf1"):
        for nu, dt in SETTINGS:
            config = BurgersConfig(
                fine_resolution=1024, subsample=8, n_train=48, n_test=16, nu=nu, dt=dt, law=law
            )
            train = generate_burgers(config)["train"]
            a, u = np.asarray(train.inputs), np.asarray(train.outputs)
            if not np.isfinite(u).all():
                raise RuntimeError(f"non-finite solution at law={law}, nu={nu}, dt={dt}")
            print(
                f"| {law} | {nu:g} | {dt:g} | {a.std():.4f} | {u.std():.4f} | "
                f"{a.std() / u.std():.1f} | {np.abs(u).max():.3f} |"
            )


if __name__ == "__main__":
    main()
