"""Experiments: task x model x training -> a run.

``registry`` holds the models (and re-exports the tasks' registry), ``config`` the
experiment as data and the presets shipped as TOML in ``configs/``, ``run`` the one
runner for every task, ``record`` what a run writes, ``bench`` the suite.
"""

from sciml.experiments.config import Experiment as Experiment
from sciml.experiments.config import get_experiment as get_experiment
from sciml.experiments.config import load_experiment as load_experiment
from sciml.experiments.recipes import Stage as Stage
from sciml.experiments.recipes import Trained as Trained
from sciml.experiments.registry import build_model as build_model
from sciml.experiments.registry import load_plugins as load_plugins
from sciml.experiments.registry import model_names as model_names
from sciml.experiments.registry import register_model as register_model
from sciml.experiments.registry import register_recipe as register_recipe
from sciml.experiments.registry import register_task as register_task
from sciml.experiments.registry import task_names as task_names
from sciml.experiments.run import TrainedRun as TrainedRun
from sciml.experiments.run import cached_run as cached_run
from sciml.experiments.run import load_run as load_run
from sciml.experiments.run import train as train
