"""Generate the built-in mini-LVIS dataset (LVIS v1 format): python tools/make_minilvis.py."""
import argparse

from mmdet_tde.testing import MiniLVISOptions, make_minilvis


def parse_args():
    defaults = MiniLVISOptions()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default='data/minilvis', help='output directory')
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--num-train', type=int, default=defaults.num_train)
    parser.add_argument('--num-val', type=int, default=defaults.num_val)
    parser.add_argument('--img-size', type=int, default=defaults.img_size)
    parser.add_argument('--force', action='store_true', help='regenerate even if up to date')
    return parser.parse_args()


def main():
    args = parse_args()
    for name in ('num_train', 'num_val'):
        if getattr(args, name) < 1:
            raise ValueError(f'--{name.replace("_", "-")} must be >= 1')
    if args.img_size < 64:
        raise ValueError('--img-size must be >= 64 (objects are 18-44 pixels wide)')
    options = MiniLVISOptions(seed=args.seed, num_train=args.num_train, num_val=args.num_val,
                              img_size=args.img_size)
    make_minilvis(args.out, options, force=args.force)


if __name__ == '__main__':
    main()
