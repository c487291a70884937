"""sciml.models"""

from sciml.models.deeponet import DeepONet as DeepONet
from sciml.models.deeponet import PODBasis as PODBasis
from sciml.models.deeponet import PODDeepONet as PODDeepONet
from sciml.models.deeponet import deeponet_param_count as deeponet_param_count
from sciml.models.deeponet import grid_points as grid_points
from sciml.models.estable import EStableNet as EStableNet
from sciml.models.fno import FNO as FNO
from sciml.models.fno import FourierLayer as FourierLayer
from sciml.models.fno import PointwiseLinear as PointwiseLinear
from sciml.models.fno import RecurrentFNO as RecurrentFNO
from sciml.models.fno import SpaceTimeFNO as SpaceTimeFNO
from sciml.models.fno import SpectralConv as SpectralConv
from sciml.models.fno import count_parameters as count_parameters
from sciml.models.fno import fno_param_count as fno_param_count
from sciml.models.mgno import MgNO as MgNO
from sciml.models.mgno import mgno_param_count as mgno_param_count
from sciml.models.neural_ode import LayerVectorField as LayerVectorField
from sciml.models.neural_ode import NeuralFlowOperator as NeuralFlowOperator
from sciml.models.neural_ode import NeuralODE as NeuralODE
from sciml.models.neural_ode import NeuralODEOperator as NeuralODEOperator
from sciml.models.neural_ode import OperatorVectorField as OperatorVectorField
from sciml.models.neural_ode import fourier_vector_field as fourier_vector_field
from sciml.models.neural_ode import multigrid_vector_field as multigrid_vector_field
from sciml.models.spec import ModelSpec as ModelSpec
from sciml.models.unet import UNet as UNet
from sciml.models.unet import unet_param_count as unet_param_count
