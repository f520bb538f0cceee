"""Generate mini-LVIS for the GPU check while mmcv is still being built.

tools/make_minilvis.py imports mmdet_tde, hence mmdet and mmcv; the generator itself needs only
numpy and cv2, so this loads its file on its own and the data is ready when the build ends.
"""
import argparse
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / 'mmdet_tde' / 'testing' / 'minilvis.py'


def load_generator(path: Path = GENERATOR):
    if not path.is_file():
        raise FileNotFoundError(f'the mini-LVIS generator is not at {path}')
    spec = importlib.util.spec_from_file_location('minilvis', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules['minilvis'] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='output folder')
    parser.add_argument('--num-train', type=int, required=True)
    parser.add_argument('--num-val', type=int, required=True)
    args = parser.parse_args(argv)
    minilvis = load_generator()
    minilvis.make_minilvis(args.out, minilvis.MiniLVISOptions(num_train=args.num_train,
                                                              num_val=args.num_val))
    print('mini-LVIS in', args.out)


if __name__ == '__main__':
    main()
