r"""The spatiotemporal FNO (SFNO) of the Spectral-Refiner: a map between Bochner spaces.

The input is the first ``n_in`` frames of a vorticity trajectory, taken as ONE
space-time field ``w(x, y, t)`` on the input window (time is an axis, not a stack of
channels); the output is the trajectory over the next ``n_out`` frame intervals, as a
band-limited function of continuous time that can be sampled at any times, with its
exact time derivative. That is what the refiner needs: the residual
``w_t + u . grad w - nu Laplacian w - f`` of the prediction between the stored frames.

The network (our own design after Cao et al., 2025, §3 and Figure 3):

1. lift ``(w, x, y, t)`` pointwise to ``width`` channels on the grid ``(s, s, n_in)``;
2. ``n_layers`` space-time Fourier layers ``v <- act(K v + W v)`` (:class:`FourierLayer`
   with modes ``(m_x, m_y, m_t)``), the time axis zero-padded by ``time_padding``
   points since time is not periodic (the FNO-3D treatment), no activation after the
   last;
3. project pointwise to one latent channel ``v: (L, s, s)`` (a latent trajectory of
   ``latent_steps = L >= n_in`` points: the input window is zero-extended to ``L``);
4. the output layer :class:`TrajectorySpectralConv` maps ``z = [w(t_0), v]`` (the last
   input frame, then the latent trajectory) to a correction ``y(tau)``, and the
   prediction is ``w(t_0 + tau) = w(t_0) + y(tau)``. It is a 1 -> 1 channel spectral
   convolution in space AND time with a learned spectral source term (bias), whose
   inverse transform in time is evaluated at arbitrary times: the latent window of
   ``L + 1`` points is mapped onto the output window ``[0, n_out]`` frame intervals,
   so ``n_out`` need not equal ``n_in`` (the paper's temporal super-resolution by the
   inverse FFT). Time is not periodic, so the sequence is zero-padded at the front to
   twice its length before the transform, as the paper's output layer does.

The output layer is the one the refiner fine-tunes, after :meth:`TrajectorySpectralConv.expanded`
has lifted its frequency truncation (every mode of the grid, the trained ones in place).

References:
    S. Cao, F. Brarda, R. Li and Y. Xi, "Spectral-Refiner: Accurate Fine-Tuning of
    Spatiotemporal Fourier Neural Operator for Turbulent Flows", ICLR 2025,
    arXiv:2405.17211.
    Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
    Equations", ICLR 2021.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from sciml.models.fno import FourierLayer, PointwiseLinear, check_modes, grid_coordinates
from sciml.models.spec import ModelSpec, check_count, modes_per_axis

__all__ = ["SFNO", "TrajectorySpectralConv", "build_sfno"]


def _corners(x: Array, axis: int, m: int) -> Array:
    """The blocks ``[:m]`` and ``[-m:]`` of ``axis``, stacked on a new axis before it."""
    n = x.shape[axis]
    low = jax.lax.slice_in_dim(x, 0, m, axis=axis)
    high = jax.lax.slice_in_dim(x, n - m, n, axis=axis)
    return jnp.stack([low, high], axis=axis)


def _uncorners(blocks: Array, axis: int, n: int) -> Array:
    """Inverse of :func:`_corners`: ``(..., 2, m, ...) -> (..., n, ...)``, zero between."""
    low, high = jnp.take(blocks, 0, axis=axis), jnp.take(blocks, 1, axis=axis)
    m = low.shape[axis]
    zeros_shape = list(low.shape)
    zeros_shape[axis] = n - 2 * m
    return jnp.concatenate([low, jnp.zeros(zeros_shape, low.dtype), high], axis=axis)


class TrajectorySpectralConv(eqx.Module):
    """A 1 -> 1 channel spectral convolution in ``(t, x, y)`` sampled at any times.

    ``z: (L + 1, s, s)`` (the last input frame, then the latent trajectory) is padded
    with ``L + 1`` zeros in front (``P = 2 (L + 1)`` points) and transformed,
    ``z_hat = rfftn(z) / (P s^2)`` (time and ``x`` full, ``y`` real). On the kept modes
    (``[:m]`` and ``[-m:]`` in ``t`` and ``x``, ``[:m]`` in ``y``)

    .. math::  \\hat y_k = R_k \\hat z_k + b_k,

    ``R`` a complex multiplier and ``b`` a complex source term (zero at first), and
    the correction at a padded time ``p`` (any real number) is the Fourier series
    ``y(p) = irfft2_{x,y}( sum_{k_t} \\hat y_k e^{2 pi i k_t p / P} )``, whose time
    derivative is the same series with ``2 pi i k_t / P`` -- exact, not a difference.

    Parameters are real arrays ``(2, 2, 2, m_t, m_x, m_y)``: time corner, ``x``
    corner, real/imaginary part, modes.
    """

    weights: Float[Array, "2 2 2 mt mx my"]
    bias: Float[Array, "2 2 2 mt mx my"]
    modes: tuple[int, int, int] = eqx.field(static=True)

    def __init__(
        self,
        modes: Sequence[int],
        *,
        key: PRNGKeyArray | None = None,
        dtype=jnp.float32,
        parameters: tuple[Array, Array] | None = None,
    ):
        """``weights`` uniform on ``[0, 1)`` (the FNO initialisation for one channel in
        and out) and ``bias`` zero; or ``parameters = (weights, bias)`` as given."""
        checked = check_modes(modes)
        if len(checked) != 3:
            raise ValueError(f"TrajectorySpectralConv expects modes (m_t, m_x, m_y), got {modes}")
        self.modes = (checked[0], checked[1], checked[2])
        shape = (2, 2, 2, *self.modes)
        if parameters is not None:
            self.weights, self.bias = parameters
            if self.weights.shape != shape or self.bias.shape != shape:
                raise ValueError(
                    f"TrajectorySpectralConv with modes {self.modes} expects weights and bias "
                    f"of shape {shape}, got {self.weights.shape} and {self.bias.shape}"
                )
            return
        if key is None:
            raise ValueError("TrajectorySpectralConv needs a key, or parameters")
        self.weights = jax.random.uniform(key, shape, dtype)
        self.bias = jnp.zeros(shape, dtype)

    def spectrum(
        self, first: Float[Array, "s s"], latent: Float[Array, "L s s"]
    ) -> Complex[Array, "2 mt 2 mx my"]:
        """``hat y`` on the kept modes: ``(t corner, m_t, x corner, m_x, m_y)``."""
        z = jnp.concatenate([first[None], latent])
        z = jnp.concatenate([jnp.zeros_like(z), z])  # time is not periodic: pad in front
        mt, mx, my = self.modes
        self._check_grid(z.shape)
        z_hat = jnp.fft.rfftn(z, norm="forward")[..., :my]
        z_hat = _corners(_corners(z_hat, 1, mx), 0, mt)  # (2, mt, 2, mx, my)
        weights = jax.lax.complex(self.weights[:, :, 0], self.weights[:, :, 1])
        bias = jax.lax.complex(self.bias[:, :, 0], self.bias[:, :, 1])
        # parameters (tc, xc, mt, mx, my) -> the spectrum's (tc, mt, xc, mx, my)
        weights, bias = (jnp.moveaxis(p, 1, 2) for p in (weights, bias))
        return weights * z_hat + bias

    def _check_grid(self, shape) -> None:
        mt, mx, my = self.modes
        p, s, _ = shape
        if 2 * mt > p or 2 * mx > s or my > s // 2 + 1:
            raise ValueError(
                f"TrajectorySpectralConv with modes {self.modes} needs a padded time axis "
                f"of at least {2 * mt} and a grid of at least {2 * mx} x {2 * (my - 1)}, got "
                f"{p} padded times (2 (latent_steps + 1)) on a {s} x {shape[2]} grid"
            )

    def sample(
        self,
        spectrum: Complex[Array, "2 mt 2 mx my"],
        times: Float[Array, " n"],
        padded: int,
        grid: tuple[int, ...],
        *,
        derivative: bool = False,
    ) -> Float[Array, "n s s"]:
        """The correction ``y`` (or ``dy/dp``) at padded times ``times``: ``(n, s, s)``."""
        mt = self.modes[0]
        k_t = jnp.concatenate([jnp.arange(mt), jnp.arange(-mt, 0)]).astype(times.dtype)
        phase = jnp.exp(2j * jnp.pi * times[:, None] * k_t[None] / padded)  # (n, 2 mt)
        if derivative:
            phase = phase * (2j * jnp.pi * k_t / padded)
        flat = spectrum.reshape(2 * mt, *spectrum.shape[2:])
        in_time = jnp.tensordot(phase.astype(flat.dtype), flat, axes=1)  # (n, 2, mx, my)
        s_x, s_y = grid
        full = _uncorners(in_time, 1, s_x)  # (n, s_x, my)
        return jnp.fft.irfft2(full, s=(s_x, s_y), norm="forward")

    def expanded(self, padded: int, grid: tuple[int, int]) -> TrajectorySpectralConv:
        """The same layer without frequency truncation: every mode of a ``padded`` x
        ``grid`` spectrum (``m = P / 2, s / 2, s / 2 + 1``), the trained ones in place
        and zeros elsewhere, so it computes the same function until it is refined."""
        full = (padded // 2, grid[0] // 2, grid[1] // 2 + 1)
        mt, mx, my = self.modes
        if any(f < m for f, m in zip(full, self.modes)):
            raise ValueError(f"cannot expand modes {self.modes} to fewer modes {full}")

        def place(p):
            out = jnp.zeros((2, 2, 2, *full), p.dtype)
            for tc, t_slice in enumerate((slice(0, mt), slice(full[0] - mt, full[0]))):
                for xc, x_slice in enumerate((slice(0, mx), slice(full[1] - mx, full[1]))):
                    out = out.at[tc, xc, :, t_slice, x_slice, :my].set(p[tc, xc])
            return out

        return TrajectorySpectralConv(full, parameters=(place(self.weights), place(self.bias)))


class SFNO(eqx.Module):
    """Spatiotemporal FNO: ``frames: (n_in, s, s) -> (n_out, s, s)`` (see the module).

    Args:
        n_in: input frames (at ``t_0 - n_in + 1, ..., t_0`` frame intervals).
        n_out: output frames (at ``t_0 + 1, ..., t_0 + n_out``).
        modes: ``(m_x, m_y, m_t)`` of the space-time Fourier layers.
        width: channels of the Fourier layers.
        n_layers: number of Fourier layers.
        output_modes: ``(m_t, m_x, m_y)`` of the output layer (trained; the refiner
            lifts the truncation); default ``(m_t, m_x, m_y)`` of ``modes``, capped by the
            padded time axis.
        latent_steps: the length ``L >= n_in`` of the latent trajectory (default
            ``n_in``): the Fourier layers run on ``L + time_padding`` times, the input
            window zero-extended, so a long output window gets a finer latent one.
        time_padding: zero points appended to the time axis of the Fourier layers.
        projection_channels: hidden channels of the projection to the latent trajectory.
        activation: pointwise nonlinearity.
        key: random key.
        dtype: floating dtype of the parameters.
    """

    lifting: PointwiseLinear
    layers: tuple[FourierLayer, ...]
    projection_hidden: PointwiseLinear
    projection_out: PointwiseLinear
    output: TrajectorySpectralConv
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    latent_steps: int = eqx.field(static=True)
    time_padding: int = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_out: int,
        modes: Sequence[int],
        width: int,
        n_layers: int = 4,
        *,
        output_modes: Sequence[int] | None = None,
        latent_steps: int | None = None,
        time_padding: int = 4,
        projection_channels: int = 32,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.n_in = check_count("SFNO", "n_in", n_in)
        self.n_out = check_count("SFNO", "n_out", n_out)
        if latent_steps is None:
            latent_steps = self.n_in
        self.latent_steps = check_count("SFNO", "latent_steps", latent_steps, minimum=self.n_in)
        width = check_count("SFNO", "width", width)
        n_layers = check_count("SFNO", "n_layers", n_layers)
        projection_channels = check_count("SFNO", "projection_channels", projection_channels)
        self.time_padding = check_count("SFNO", "time_padding", time_padding, minimum=0)
        modes = check_modes(modes)
        if len(modes) != 3:
            raise ValueError(f"SFNO expects modes (m_x, m_y, m_t), got {modes}")
        if output_modes is None:
            output_modes = (min(modes[2], self.latent_steps + 1), modes[0], modes[1])
        self.activation = activation
        lift_key, hidden_key, out_key, output_key, *layer_keys = jax.random.split(key, 4 + n_layers)
        self.lifting = PointwiseLinear(4, width, key=lift_key, dtype=dtype)
        self.layers = tuple(FourierLayer(width, modes, key=k, dtype=dtype) for k in layer_keys)
        self.projection_hidden = PointwiseLinear(
            width, projection_channels, key=hidden_key, dtype=dtype
        )
        self.projection_out = PointwiseLinear(projection_channels, 1, key=out_key, dtype=dtype)
        self.output = TrajectorySpectralConv(output_modes, key=output_key, dtype=dtype)

    def check_input(self, shape) -> None:
        if len(shape) != 3 or shape[0] != self.n_in:
            raise ValueError(
                f"SFNO expects input frames of shape (n_in={self.n_in}, s, s), got shape "
                f"{tuple(shape)}; a batch goes through jax.vmap(model)"
            )

    def latent(self, frames: Float[Array, "n_in s s"]) -> Float[Array, "L s s"]:
        """The latent trajectory the output layer transforms (steps 1-3 of the module)."""
        self.check_input(frames.shape)
        field = jnp.moveaxis(frames, 0, -1)[None]  # (1, s, s, n_in)
        grid = field.shape[1:]
        v = self.lifting(jnp.concatenate([field, grid_coordinates(grid, frames.dtype)]))
        extra = self.latent_steps - self.n_in + self.time_padding
        v = jnp.pad(v, [(0, 0), (0, 0), (0, 0), (0, extra)])
        *hidden, last = self.layers
        for layer in hidden:
            v = self.activation(layer(v))
        v = last(v)[..., : self.latent_steps]
        v = self.projection_out(self.activation(self.projection_hidden(v)))
        return jnp.moveaxis(v[0], -1, 0)

    @property
    def padded_times(self) -> int:
        """``P = 2 (L + 1)``: the padded time axis of the output layer."""
        return 2 * (self.latent_steps + 1)

    def padded_position(self, tau: Float[Array, " n"]) -> Float[Array, " n"]:
        """Frame intervals after the last input frame -> the output layer's padded time."""
        return self.latent_steps + 1 + tau * self.latent_steps / self.n_out

    def trajectory(
        self,
        frames: Float[Array, "n_in s s"],
        tau: Float[Array, " n"],
        *,
        output: TrajectorySpectralConv | None = None,
        latent: Float[Array, "n_in s s"] | None = None,
    ) -> tuple[Float[Array, "n s s"], Float[Array, "n s s"]]:
        """``w`` and ``dw/dtau`` at ``tau`` frame intervals after the last input frame.

        ``output`` replaces the output layer (the refiner's), ``latent`` the latent
        trajectory (computed once when the output layer alone changes).
        """
        output = self.output if output is None else output
        latent = self.latent(frames) if latent is None else latent
        spectrum = output.spectrum(frames[-1], latent)
        position = self.padded_position(tau)
        grid = frames.shape[1:]
        y = output.sample(spectrum, position, self.padded_times, grid)
        dy = output.sample(spectrum, position, self.padded_times, grid, derivative=True)
        return frames[-1] + y, dy * (self.latent_steps / self.n_out)

    def __call__(self, frames: Float[Array, "n_in s s"]) -> Float[Array, "n_out s s"]:
        self.check_input(frames.shape)
        tau = jnp.arange(1, self.n_out + 1, dtype=frames.dtype)
        latent = self.latent(frames)
        spectrum = self.output.spectrum(frames[-1], latent)
        y = self.output.sample(
            spectrum, self.padded_position(tau), self.padded_times, frames.shape[1:]
        )
        return frames[-1] + y


def build_sfno(
    spec: ModelSpec,
    *,
    key: jax.Array,
    modes: int | Sequence[int] = 8,
    width: int = 16,
    n_layers: int = 4,
    output_modes: Sequence[int] | None = None,
    latent_steps: int | None = None,
    time_padding: int = 4,
    projection_channels: int = 32,
):
    """The spatiotemporal FNO of the Spectral-Refiner (frames of a 2-D trajectory only)."""
    if spec.frames is None or len(spec.grid) != 2:
        raise ValueError(
            "model 'sfno' maps the first frames of a 2-D trajectory to the next ones; the "
            f"task has {'no frames' if spec.frames is None else f'a {len(spec.grid)}-D grid'}"
        )
    return SFNO(
        *spec.frames,
        modes_per_axis(modes, 3),
        width,
        n_layers,
        output_modes=None if output_modes is None else tuple(output_modes),
        latent_steps=latent_steps,
        time_padding=time_padding,
        projection_channels=projection_channels,
        key=key,
    )
