"""MONAI's DiffusionModelUNet in its reference 3D configuration, written with PyTorch's Python API.

The configuration (MONAI's DiffusionModelUNet(spatial_dims=3, in_channels=1, out_channels=1,
channels=(32, 64, 64), attention_levels=(False, False, True), num_res_blocks=1,
num_head_channels=(0, 0, 32), norm_num_groups=32), no conditioning) has 2,920,289 parameters.
Rebuilt here layer for layer from the structure of monai/networks/nets/diffusion_model_unet.py, so
the peer runs on Debian's /usr/bin/python3 (python3-torch) without MONAI: the same layers, widths,
init (zeroed conv2 and output conv), GroupNorm eps 1e-6, attention without upcast, nearest
upsampling followed by a convolution, and the module names of MONAI's source (conv_in,
down_blocks.i.resnets.j, middle_block, up_blocks.i.upsampler.postconv, out).

Training step as in MONAI's DDPM tutorials: integer timesteps, linear beta schedule (1e-4 to 0.02,
1000 steps), epsilon-prediction MSE, AdamW. bf16 is pure bf16: model and input in bfloat16, every
op in bf16 as MONAI runs it (no fp32 norms or softmax, unlike unet3d.py). Prints `name value`
lines in the protocol of bench/python/unet3d.py.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from peer import arguments, peak_rss_mb, time_training

MONAI_PARAMS = 2_920_289
NORM_EPS = 1e-6


class Conv(nn.Module):
    """A bare convolution under the name `conv`, where MONAI wraps it in its Convolution block."""

    def __init__(self, cin, cout, kernel, stride=1, zero=False):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=kernel // 2)
        if zero:
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        return self.conv(x)


def group_norm(groups, channels):
    return nn.GroupNorm(groups, channels, eps=NORM_EPS)


def timestep_embedding(timesteps, dim, max_period=10000.0):
    """Ho et al. 2020's sinusoidal embedding of integer timesteps, cos half first."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = timesteps.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], 1)


class ResnetBlock(nn.Module):
    """GroupNorm-SiLU-conv, plus a linear projection of the time embedding added before the
    second norm; 1x1 skip convolution when the width changes."""

    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.norm1 = group_norm(groups, cin)
        self.conv1 = Conv(cin, cout, 3)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = group_norm(groups, cout)
        self.conv2 = Conv(cout, cout, 3, zero=True)
        self.skip_connection = Conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(emb))[:, :, None, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip_connection(x) + h


class SelfAttention(nn.Module):
    """Multi-head attention over tokens: separate q, k, v projections with bias, output projection."""

    def __init__(self, channels, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.out_proj = nn.Linear(channels, channels)

    def forward(self, t):
        b, n, c = t.shape
        d = c // self.heads
        q, k, v = (proj(t).view(b, n, self.heads, d).transpose(1, 2)
                   for proj in (self.to_q, self.to_k, self.to_v))
        w = torch.softmax(q @ k.transpose(-2, -1) * d ** -0.5, -1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, n, c))


class SpatialAttentionBlock(nn.Module):
    """GroupNorm, self-attention over the voxels as tokens, residual."""

    def __init__(self, channels, head_channels, groups):
        super().__init__()
        self.norm = group_norm(groups, channels)
        self.attn = SelfAttention(channels, channels // head_channels)

    def forward(self, x):
        t = self.norm(x).flatten(2).transpose(1, 2)
        return x + self.attn(t).transpose(1, 2).reshape(x.shape)


class Downsampler(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.op = Conv(channels, channels, 3, stride=2)

    def forward(self, x):
        return self.op(x)


class Upsampler(nn.Module):
    """Nearest-neighbour doubling, then a 3x3x3 convolution."""

    def __init__(self, channels):
        super().__init__()
        self.postconv = Conv(channels, channels, 3)

    def forward(self, x):
        return self.postconv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownLevel(nn.Module):
    """Residual blocks (each followed by attention at attention levels), then a strided conv
    except at the lowest level. Returns the features and the skips it hands to the up path."""

    def __init__(self, cin, cout, temb, blocks, attention, head_channels, groups, downsample):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock(cin if i == 0 else cout, cout, temb, groups) for i in range(blocks)])
        self.attentions = nn.ModuleList(
            [SpatialAttentionBlock(cout, head_channels, groups) for _ in range(blocks)]) if attention else None
        self.downsampler = Downsampler(cout) if downsample else None

    def forward(self, h, emb):
        skips = []
        for i, resnet in enumerate(self.resnets):
            h = resnet(h, emb)
            if self.attentions is not None:
                h = self.attentions[i](h)
            skips.append(h)
        if self.downsampler is not None:
            h = self.downsampler(h)
            skips.append(h)
        return h, skips


class MidBlock(nn.Module):
    """Residual block, attention, residual block."""

    def __init__(self, channels, temb, head_channels, groups):
        super().__init__()
        self.resnet_1 = ResnetBlock(channels, channels, temb, groups)
        self.attention = SpatialAttentionBlock(channels, head_channels, groups)
        self.resnet_2 = ResnetBlock(channels, channels, temb, groups)

    def forward(self, h, emb):
        return self.resnet_2(self.attention(self.resnet_1(h, emb)), emb)


class UpLevel(nn.Module):
    """blocks + 1 residual blocks, each on the concatenation of the features and one skip
    (popped from the end), attention after each at attention levels, then the upsampler except at
    full size. `skip_widths` lists the widths of the skips in the order they are consumed."""

    def __init__(self, cin, cout, skip_widths, temb, attention, head_channels, groups, upsample):
        super().__init__()
        widths = [cin] + [cout] * (len(skip_widths) - 1)
        self.resnets = nn.ModuleList(
            [ResnetBlock(w + s, cout, temb, groups) for w, s in zip(widths, skip_widths)])
        self.attentions = nn.ModuleList(
            [SpatialAttentionBlock(cout, head_channels, groups) for _ in skip_widths]) if attention else None
        self.upsampler = Upsampler(cout) if upsample else None

    def forward(self, h, skips, emb):
        for i, resnet in enumerate(self.resnets):
            h = resnet(torch.cat([h, skips.pop()], 1), emb)
            if self.attentions is not None:
                h = self.attentions[i](h)
        return self.upsampler(h) if self.upsampler is not None else h


class DiffusionModelUNet(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, channels=(32, 64, 64),
                 attention_levels=(False, False, True), num_res_blocks=1,
                 num_head_channels=(0, 0, 32), norm_num_groups=32):
        super().__init__()
        c0, levels = channels[0], len(channels)
        temb = 4 * c0
        self.c0 = c0
        self.conv_in = Conv(in_channels, c0, 3)
        self.time_embed = nn.Sequential(nn.Linear(c0, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.down_blocks = nn.ModuleList()
        skip_widths, ch = [c0], c0
        for level, width in enumerate(channels):
            last = level == levels - 1
            self.down_blocks.append(DownLevel(ch, width, temb, num_res_blocks, attention_levels[level],
                                              num_head_channels[level], norm_num_groups, not last))
            ch = width
            skip_widths += [width] * (num_res_blocks + (0 if last else 1))
        self.middle_block = MidBlock(ch, temb, num_head_channels[-1], norm_num_groups)
        self.up_blocks = nn.ModuleList()
        for level in reversed(range(levels)):
            taken = [skip_widths.pop() for _ in range(num_res_blocks + 1)]
            self.up_blocks.append(UpLevel(ch, channels[level], taken, temb, attention_levels[level],
                                          num_head_channels[level], norm_num_groups, level > 0))
            ch = channels[level]
        self.out = nn.Sequential(group_norm(norm_num_groups, c0), nn.SiLU(),
                                 Conv(c0, out_channels, 3, zero=True))

    def forward(self, x, timesteps):
        emb = self.time_embed(timestep_embedding(timesteps, self.c0).to(x.dtype))
        h = self.conv_in(x)
        skips = [h]
        for block in self.down_blocks:
            h, s = block(h, emb)
            skips += s
        h = self.middle_block(h, emb)
        for block in self.up_blocks:
            h = block(h, skips, emb)
        return self.out(h)


def count_parameters(net):
    return sum(p.numel() for p in net.parameters())


class DDPMSchedule:
    """Ho et al. 2020: linear betas, x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps."""

    def __init__(self, steps=1000, beta_start=1e-4, beta_end=0.02):
        self.steps = steps
        self.alphas_cumprod = torch.cumprod(1 - torch.linspace(beta_start, beta_end, steps), 0)

    def add_noise(self, x0, eps, t):
        abar = self.alphas_cumprod[t].view(-1, 1, 1, 1, 1).to(x0.dtype)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * eps


def train_step(net, opt, schedule, batch, size, dtype):
    x = torch.randn(batch, 1, size, size, size, dtype=dtype)
    eps = torch.randn_like(x)
    t = torch.randint(0, schedule.steps, (batch,))
    loss = F.mse_loss(net(schedule.add_noise(x, eps, t), t).float(), eps.float())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main():
    args = arguments()
    params = count_parameters(DiffusionModelUNet())
    assert params == MONAI_PARAMS, f"{params} parameters, MONAI's configuration has {MONAI_PARAMS}"
    print(f"python_monai_config_params {params}", flush=True)
    schedule = DDPMSchedule()
    time_training("python_monai_config", DiffusionModelUNet,
                  lambda net, opt, dtype: train_step(net, opt, schedule, args.batch, args.size, dtype), args)
    print(f"python_monai_config_peak_rss_mb {peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
