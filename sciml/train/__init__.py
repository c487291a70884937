"""Training: losses, learning-rate schedules, the fit loop and checkpoints."""

from sciml.train.checkpoint import Checkpoint as Checkpoint
from sciml.train.checkpoint import CheckpointWriter as CheckpointWriter
from sciml.train.checkpoint import DamagedCheckpointError as DamagedCheckpointError
from sciml.train.checkpoint import DamagedCheckpointWarning as DamagedCheckpointWarning
from sciml.train.checkpoint import latest_epoch as latest_epoch
from sciml.train.checkpoint import latest_intact_epoch as latest_intact_epoch
from sciml.train.checkpoint import load_checkpoint as load_checkpoint
from sciml.train.checkpoint import load_metadata as load_metadata
from sciml.train.checkpoint import load_model as load_model
from sciml.train.checkpoint import save_checkpoint as save_checkpoint
from sciml.train.config import TrainConfig as TrainConfig
from sciml.train.fit import NonFiniteLossError as NonFiniteLossError
from sciml.train.fit import fit as fit
from sciml.train.losses import relative_h1 as relative_h1
from sciml.train.losses import relative_l2 as relative_l2
from sciml.train.losses import relative_lp as relative_lp
from sciml.train.optimizers import make_optimizer as make_optimizer
from sciml.train.optimizers import make_schedule as make_schedule
from sciml.train.schedules import cosine as cosine
from sciml.train.schedules import one_cycle as one_cycle
from sciml.train.schedules import step_decay as step_decay
from sciml.train.trainable import trainable_filter as trainable_filter
from sciml.train.unroll import UnrollRule as UnrollRule
from sciml.train.unroll import fit_unrolling as fit_unrolling
