"""sciml: learning solution operators of PDEs in JAX, with differentiable solvers.

The public surface, re-exported here; the subpackages hold the rest:
``sciml.fields`` (Gaussian random fields), ``sciml.spectral`` (wavenumbers,
dealiasing, derivatives), ``sciml.solvers`` (reference solvers), ``sciml.models``
(neural operators), ``sciml.data`` (data sets, cache, normalisation) and
``sciml.train`` (losses, fit, schedules, checkpoints); above them ``sciml.tasks`` (what
a task is) and ``sciml.experiments`` (the registries, presets, the runner, the suite).
"""

from sciml.data.dataset import OperatorDataset as OperatorDataset
from sciml.data.normalise import GaussianNormaliser as GaussianNormaliser
from sciml.data.normalise import NormalisedOperator as NormalisedOperator
from sciml.experiments import Experiment as Experiment
from sciml.experiments import get_experiment as get_experiment
from sciml.experiments import load_run as load_run
from sciml.experiments import register_model as register_model
from sciml.experiments import register_recipe as register_recipe
from sciml.experiments import register_task as register_task
from sciml.fields import neumann_grf as neumann_grf
from sciml.fields import periodic_grf as periodic_grf
from sciml.models import FNO as FNO
from sciml.solvers import solve_darcy as solve_darcy
from sciml.tasks import ModelSpec as ModelSpec
from sciml.tasks import Task as Task
from sciml.train import TrainConfig as TrainConfig
from sciml.train import fit as fit
from sciml.train import load_model as load_model
from sciml.train import relative_h1 as relative_h1
from sciml.train import relative_l2 as relative_l2

__version__ = "0.1.0"
