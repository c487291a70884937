"""Inverse problems through differentiable solvers or trained surrogates.

``Posterior`` composes a parameterisation (latent -> unknown field), a forward map
(field -> state: a solver or a trained operator), sensors and noisy data into the
negative log posterior; ``recover`` minimises it with optax (L-BFGS or Adam) and
returns the estimate and its history. The problem modules hold the parameterisations
and forward maps of the Darcy, Burgers and Navier–Stokes tasks; ``sciml.inverse.run``
is the runner of ``sciml invert``. A surrogate is any ``sciml train`` run folder,
loaded by :func:`sciml.experiments.load_run`.
"""

from sciml.experiments.run import load_run as load_surrogate  # noqa: F401 - the old name
from sciml.inverse.burgers import BurgersSolver as BurgersSolver
from sciml.inverse.darcy import DarcySolver as DarcySolver
from sciml.inverse.darcy import SmoothThreshold as SmoothThreshold
from sciml.inverse.darcy import Surrogate as Surrogate
from sciml.inverse.darcy import classification_accuracy as classification_accuracy
from sciml.inverse.navier_stokes import NavierStokesSolver as NavierStokesSolver
from sciml.inverse.navier_stokes import TrajectorySurrogate as TrajectorySurrogate
from sciml.inverse.periodic import PeriodicField as PeriodicField
from sciml.inverse.problem import Posterior as Posterior
from sciml.inverse.problem import Recovery as Recovery
from sciml.inverse.problem import check_observations as check_observations
from sciml.inverse.problem import check_sensors as check_sensors
from sciml.inverse.problem import gaussian_prior as gaussian_prior
from sciml.inverse.problem import misfit as misfit
from sciml.inverse.problem import observe as observe
from sciml.inverse.problem import recover as recover
from sciml.inverse.problem import relative_error as relative_error
from sciml.inverse.problem import uniform_sensors as uniform_sensors
