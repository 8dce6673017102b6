"""Is MS lesion load readable from one synthetic-brain scan, and by what? A PyTorch check beside
experiments/lesion_readability.lua (docs/experiments.md), on a store written by
`whatif data synth brain --task ms --subjects 400 --size 32 --out ms400.h5`.

  classifier    a GroupNorm 3D resnet (stem, three stride-2 stages of two convolutions), global
                max or mean pooling, three levels by cross-entropy: what a clip image tower or the
                text-alignment classifier is asked to do, with normalisation and standardised input
  segmentation  a four-layer fully convolutional net trained on the lesion masks the store keeps;
                a scan's predicted lesion voxels are mapped to a level by thresholds halfway
                between the training scans' level means

Every fifth subject is held out whole. Prints the held-out level accuracy (chance 1/3).
Usage: python3 ms_lesion_readability.py STORE {classifier|segmentation} [--pooling max|mean]
       [--steps N] [--threads T]
"""
import argparse
import time

import h5py
import numpy as np
import torch
from torch import nn


def load(path):
    with h5py.File(path, "r") as h:
        x = torch.from_numpy(h["images"][()])
        masks = torch.from_numpy(h["masks"][()]).float()
        level = h["attrs/level"][()].astype(int)
        volume = h["attrs/lesion_volume_ml"][()]
        subject = np.array(h["subject"][()])
    ids = sorted(set(subject))
    held = set(ids[i] for i in range(2, len(ids), 5))
    test = np.array([s in held for s in subject])
    train = ~test
    x = (x - x[train].mean()) / x[train].std()
    return x, masks, level, volume, train, test


def classifier(pooling):
    def stage(i, o):
        return nn.Sequential(nn.Conv3d(i, o, 3, 2, 1), nn.GroupNorm(8, o), nn.SiLU(),
                             nn.Conv3d(o, o, 3, 1, 1), nn.GroupNorm(8, o), nn.SiLU())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv3d(1, 16, 3, 1, 1), nn.GroupNorm(8, 16), nn.SiLU(),
                                      stage(16, 32), stage(32, 64), stage(64, 128))
            self.head = nn.Linear(128, 3)

        def forward(self, v):
            f = self.body(v).flatten(2)
            return self.head(f.amax(2) if pooling == "max" else f.mean(2))

    return Net()


def batched(fn, x):
    with torch.no_grad():
        return torch.cat([fn(x[k:k + 32]) for k in range(0, len(x), 32)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("mode", choices=["classifier", "segmentation"])
    ap.add_argument("--pooling", choices=["max", "mean"], default="max")
    ap.add_argument("--steps", type=int, default=0, help="default 1500 (classifier), 800 (segmentation)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x, masks, level, volume, train, test = load(a.store)
    xtr, ytr, mtr = x[train], torch.from_numpy(level[train]), masks[train]
    steps = a.steps or (1500 if a.mode == "classifier" else 800)
    if a.mode == "classifier":
        net, batch, lr = classifier(a.pooling), 16, 5e-4
        loss_of = lambda i: nn.functional.cross_entropy(net(xtr[i]), ytr[i])
    else:
        net = nn.Sequential(nn.Conv3d(1, 16, 3, 1, 1), nn.SiLU(), nn.Conv3d(16, 16, 3, 1, 1), nn.SiLU(),
                            nn.Conv3d(16, 16, 3, 1, 1), nn.SiLU(), nn.Conv3d(16, 1, 1))
        batch, lr = 8, 1e-3
        positive = float(mtr.mean())
        weight = torch.tensor((1 - positive) / positive)
        loss_of = lambda i: nn.functional.binary_cross_entropy_with_logits(net(xtr[i]), mtr[i], pos_weight=weight)
    opt = torch.optim.AdamW(net.parameters(), lr, weight_decay=1e-4)
    start = time.time()
    for step in range(steps):
        loss = loss_of(torch.randint(0, len(xtr), (batch,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    net.eval()
    if a.mode == "classifier":
        predicted = batched(net, x).argmax(1).numpy()
        print(f"training accuracy {np.mean(predicted[train] == level[train]):.3f}")
    else:
        count = batched(lambda v: (net(v) > 0).float().flatten(1).sum(1), x).numpy()
        means = [count[train & (level == k)].mean() for k in range(3)]
        predicted = sum((count > (means[k] + means[k + 1]) / 2).astype(int) for k in range(2))
        print("held-out predicted lesion voxels by level:", [round(float(count[test & (level == k)].mean()), 1) for k in range(3)])
        print(f"held-out correlation with lesion volume {np.corrcoef(count[test], volume[test])[0, 1]:.3f}")
    print(f"held-out accuracy {np.mean(predicted[test] == level[test]):.3f} ({int(test.sum())} scans, chance 0.333); "
          f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
