"""Data sets: generate, cache, read (in memory or lazily), normalise, batch, stream."""

from sciml.data.burgers import BurgersConfig as BurgersConfig
from sciml.data.burgers import generate_burgers as generate_burgers
from sciml.data.cache import cache_path as cache_path
from sciml.data.cache import load_or_generate as load_or_generate
from sciml.data.darcy import DarcyConfig as DarcyConfig
from sciml.data.darcy import generate_darcy as generate_darcy
from sciml.data.dataset import OperatorDataset as OperatorDataset
from sciml.data.dataset import load_splits as load_splits
from sciml.data.dataset import save_splits as save_splits
from sciml.data.lazy import ArraySamples as ArraySamples
from sciml.data.lazy import LazyDataset as LazyDataset
from sciml.data.navier_stokes import NavierStokesConfig as NavierStokesConfig
from sciml.data.navier_stokes import generate_navier_stokes as generate_navier_stokes
from sciml.data.normalise import GaussianNormaliser as GaussianNormaliser
from sciml.data.normalise import NormalisedOperator as NormalisedOperator
from sciml.data.pdebench import PDEBenchTrajectories as PDEBenchTrajectories
from sciml.data.pdebench import read_pdebench as read_pdebench
from sciml.data.readers import read_fno_burgers as read_fno_burgers
from sciml.data.readers import read_fno_darcy as read_fno_darcy
from sciml.data.readers import read_fno_navier_stokes as read_fno_navier_stokes
from sciml.data.readers import read_pdebench_burgers as read_pdebench_burgers
from sciml.data.readers import read_pdebench_darcy as read_pdebench_darcy
from sciml.data.readers import train_test_split as train_test_split
from sciml.data.stream import BatchStream as BatchStream
from sciml.data.well import WellDataset as WellDataset
from sciml.data.well import read_well as read_well
