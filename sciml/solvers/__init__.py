"""sciml.solvers"""

from sciml.solvers.darcy import darcy_operator as darcy_operator
from sciml.solvers.darcy import darcy_residual as darcy_residual
from sciml.solvers.darcy import solve_darcy as solve_darcy
from sciml.solvers.darcy import solve_darcy_with_info as solve_darcy_with_info
