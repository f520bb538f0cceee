"""The Python side of the GPU check's environment report: which Python, torch, CUDA and GPU.

One line each, so that gpu_check_summary.py can pick them out of the step's log.
"""
import platform

import torch


def report_lines(torch_module=torch) -> list:
    cuda = torch_module.cuda
    lines = [f'python {platform.python_version()} torch {torch_module.__version__} '
             f'cuda {torch_module.version.cuda} available {cuda.is_available()}']
    if cuda.is_available():
        lines.append(f'gpu {cuda.get_device_name()} {cuda.get_device_capability()}')
    return lines


def main() -> None:
    print('\n'.join(report_lines()))


if __name__ == '__main__':
    main()
