"""`python -m models.train ARGS` = `fenerf train ARGS`; under `torchrun -m models.train` each process
joins the process group from torchrun's environment (DistributedDataParallel)."""
import sys

from models.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
