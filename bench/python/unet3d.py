"""The reference 3D U-Net of bench_unet3d, written with PyTorch's Python API.

Same architecture as plugins/denoisers (unet: channels 32-64-64, one res-block per level,
self-attention at the lowest level, one bottleneck block), same v-prediction loss and AdamW step.
Run by bench_unet3d with Debian's /usr/bin/python3 (python3-torch); prints `python_<name> <ms>`.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from peer import arguments, peak_rss_mb, time_training


def sinusoidal(values, dim, max_period=100.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = values.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], 1)


class GroupNorm32(nn.GroupNorm):
    def forward(self, x):
        # Statistics in fp32, as in the C++ network (pure-bf16 runs keep bf16 parameters).
        return F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(),
                            self.eps).to(x.dtype)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.norm1 = GroupNorm32(8, cin)
        self.conv1 = nn.Conv3d(cin, cout, 3, padding=1)
        self.emb_proj = nn.Linear(emb, 2 * cout)
        self.norm2 = GroupNorm32(8, cout)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb_proj(F.silu(emb))[:, :, None, None, None].chunk(2, 1)
        h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, ch, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm32(8, ch)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.proj = nn.Linear(ch, ch)

    def forward(self, x):
        b, c = x.shape[:2]
        t = self.norm(x).flatten(2).transpose(1, 2)
        q, k, v = self.qkv(t).chunk(3, -1)
        d = c // self.heads
        q, k, v = (z.view(b, -1, self.heads, d).transpose(1, 2) for z in (q, k, v))
        w = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(d)).float(), -1).to(v.dtype)
        out = (w @ v).transpose(1, 2).reshape(b, -1, c)
        return x + self.proj(out).transpose(1, 2).reshape(x.shape)


class UNet3D(nn.Module):
    def __init__(self, channels=(32, 64, 64)):
        super().__init__()
        c0 = channels[0]
        emb = 4 * c0
        self.c0 = c0
        self.time1, self.time2 = nn.Linear(c0, emb), nn.Linear(emb, emb)
        self.input = nn.Conv3d(1, c0, 3, padding=1)
        self.down, self.down_sample = nn.ModuleList(), nn.ModuleList()
        skips, ch = [c0], c0
        for level, width in enumerate(channels):
            self.down.append(ResBlock(ch, width, emb))
            ch = width
            skips.append(ch)
            if level + 1 < len(channels):
                self.down_sample.append(nn.Conv3d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.down_attn = Attention(ch)
        self.mid = ResBlock(ch, ch, emb)
        self.mid_attn = Attention(ch)
        self.up, self.up_sample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(channels))):
            for _ in range(2):
                self.up.append(ResBlock(ch + skips.pop(), channels[level], emb))
                ch = channels[level]
            if level > 0:
                self.up_sample.append(nn.Conv3d(ch, ch, 3, padding=1))
        self.lowest_up_attn = nn.ModuleList([Attention(channels[-1]) for _ in range(2)])
        self.out_norm = GroupNorm32(8, ch)
        self.output = nn.Conv3d(ch, 1, 3, padding=1)
        nn.init.zeros_(self.output.weight)
        self.levels = len(channels)

    def forward(self, x, lam):
        emb = self.time2(F.silu(self.time1(sinusoidal(lam, self.c0).to(x.dtype))))
        h = self.input(x)
        skips = [h]
        for level in range(self.levels):
            h = self.down[level](h, emb)
            if level == self.levels - 1:
                h = self.down_attn(h)
            skips.append(h)
            if level + 1 < self.levels:
                h = self.down_sample[level](h)
                skips.append(h)
        h = self.mid_attn(self.mid(h, emb))
        block = 0
        for level in reversed(range(self.levels)):
            for i in range(2):
                h = self.up[block](torch.cat([h, skips.pop()], 1), emb)
                block += 1
                if level == self.levels - 1:
                    h = self.lowest_up_attn[i](h)
            if level > 0:
                h = self.up_sample[self.levels - 1 - level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.output(F.silu(self.out_norm(h)))


def train_step(net, opt, batch, size, dtype):
    x = torch.randn(batch, 1, size, size, size, dtype=dtype)
    eps = torch.randn_like(x)
    t = torch.rand(batch)
    alpha, sigma = torch.cos(math.pi * t / 2), torch.sin(math.pi * t / 2)
    lam = 2 * (alpha.clamp_min(1e-12).log() - sigma.clamp_min(1e-12).log())
    a = alpha.view(-1, 1, 1, 1, 1).to(dtype)
    s = sigma.view(-1, 1, 1, 1, 1).to(dtype)
    loss = (net(a * x + s * eps, lam).float() - (a * eps - s * x).float()).square().mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main():
    args = arguments()
    time_training("python_unet3d", UNet3D, lambda net, opt, dtype: train_step(net, opt, args.batch, args.size, dtype),
                  args)
    print(f"python_peak_rss_mb {peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
