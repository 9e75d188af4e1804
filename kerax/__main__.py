"""`python -m kerax demo`: the main job."""
import argparse
import sys

from kerax.demo import run


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kerax", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="train a small model on a dataset shipped with kerax")
    demo.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    demo.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    demo.add_argument("--output", default="kerax_demo.keras",
                      help="where to save the trained model (default kerax_demo.keras)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 0
    return run(epochs=args.epochs, batch_size=args.batch_size, output=args.output,
               seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
