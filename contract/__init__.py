"""What every part of writeup agrees on: the model registry (`registry`), the
compose messages and their limits (`protocol`), and the sampling parameters a
request carries from the editor to the engine (`sampling_params`).

The backend, the microservice, the stack, the genre tools, the load test and
Ansible's helpers import it; it imports none of them, and no torch.
"""
