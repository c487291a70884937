"""sciml.solvers"""

from sciml.solvers.burgers import BurgersETDRK4 as BurgersETDRK4
from sciml.solvers.burgers import cole_hopf_solution as cole_hopf_solution
from sciml.solvers.burgers import solve_burgers as solve_burgers
from sciml.solvers.darcy import darcy_operator as darcy_operator
from sciml.solvers.darcy import darcy_residual as darcy_residual
from sciml.solvers.darcy import solve_darcy as solve_darcy
from sciml.solvers.darcy import solve_darcy_with_info as solve_darcy_with_info
from sciml.solvers.etdrk import ETDRK4Coefficients as ETDRK4Coefficients
from sciml.solvers.etdrk import etdrk4_coefficients as etdrk4_coefficients
from sciml.solvers.etdrk import etdrk4_step as etdrk4_step
from sciml.solvers.gradient_flow import SAV as SAV
from sciml.solvers.gradient_flow import ConvexSplitting as ConvexSplitting
from sciml.solvers.gradient_flow import GradientFlow as GradientFlow
from sciml.solvers.gradient_flow import StabilisedETD as StabilisedETD
from sciml.solvers.gradient_flow import StabilisedSemiImplicit as StabilisedSemiImplicit
from sciml.solvers.navier_stokes import ETDRK4 as ETDRK4
from sciml.solvers.navier_stokes import CrankNicolsonEuler as CrankNicolsonEuler
from sciml.solvers.navier_stokes import fno_forcing as fno_forcing
from sciml.solvers.navier_stokes import rollout as rollout
from sciml.solvers.navier_stokes import solve_navier_stokes as solve_navier_stokes
from sciml.solvers.navier_stokes import velocity_from_vorticity as velocity_from_vorticity
