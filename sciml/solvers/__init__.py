"""sciml.solvers"""

from sciml.solvers.burgers import BurgersETDRK4 as BurgersETDRK4
from sciml.solvers.burgers import cole_hopf_solution as cole_hopf_solution
from sciml.solvers.burgers import etdrk4_coefficients as etdrk4_coefficients
from sciml.solvers.burgers import solve_burgers as solve_burgers
from sciml.solvers.darcy import darcy_operator as darcy_operator
from sciml.solvers.darcy import darcy_residual as darcy_residual
from sciml.solvers.darcy import solve_darcy as solve_darcy
from sciml.solvers.darcy import solve_darcy_with_info as solve_darcy_with_info
