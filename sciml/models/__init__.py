"""sciml.models"""

from sciml.models.fno import FNO as FNO
from sciml.models.fno import FourierLayer as FourierLayer
from sciml.models.fno import PointwiseLinear as PointwiseLinear
from sciml.models.fno import RecurrentFNO as RecurrentFNO
from sciml.models.fno import SpaceTimeFNO as SpaceTimeFNO
from sciml.models.fno import SpectralConv as SpectralConv
from sciml.models.fno import count_parameters as count_parameters
from sciml.models.fno import fno_param_count as fno_param_count
