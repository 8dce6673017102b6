"""What the Python peers of bench_unet3d share: their command line and the timed training loop,
printed as `name value` lines that the C++ benchmark reads."""
import argparse
import resource
import time

import torch


def arguments():
    """--steps, --threads, --size, --batch; sets the thread count and the seed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return args


def time_training(prefix, make_net, step, args):
    """For fp32 and pure bf16: a fresh network, AdamW, two untimed steps, then `args.steps` timed
    ones; prints `<prefix>_train_step_<precision> <ms>`. `step(net, opt, dtype)` runs one step."""
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        net = make_net().to(dtype)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        for _ in range(2):
            step(net, opt, dtype)
        start = time.perf_counter()
        for _ in range(args.steps):
            step(net, opt, dtype)
        ms = (time.perf_counter() - start) / args.steps * 1000
        print(f"{prefix}_train_step_{name} {ms:.1f}", flush=True)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
