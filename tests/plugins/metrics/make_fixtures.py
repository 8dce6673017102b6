"""Reference numbers recorded in test_similarity.cpp ("match scikit-image ... NumPy MS-SSIM").

Not run by the tests. Regenerate with Debian's python3 and python3-skimage (0.19.3 was used):
    /usr/bin/python3 tests/plugins/metrics/make_fixtures.py
SSIM and PSNR come from scikit-image with Wang et al. 2004's settings; MS-SSIM (Wang et al. 2003)
is written out below with NumPy/SciPy, following the scale rule of docs/metrics.md.
"""
import numpy as np
import skimage
from scipy.ndimage import correlate1d
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

R = 2.0
WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def pair(shape):
    """The pair fixture_pair() builds in the test; (i, j) are the last two axes, k the first."""
    idx = np.indices(shape).astype(np.float64)
    if len(shape) == 2:
        (i, j), k = idx, 0
    else:
        k, i, j = idx
    x = 1 + 0.8 * np.sin(0.7 * i + 0.3 * j + 0.5 * k) + 0.1 * np.cos(0.2 * i * j)
    y = x + 0.15 * np.sin(1.9 * i - 1.3 * j + 0.7 * k + 0.5) - 0.05
    return x, y


def gaussian_valid(a, n):
    t = np.arange(n) - (n - 1) / 2
    g = np.exp(-t**2 / (2 * 1.5**2))
    g /= g.sum()
    for ax in range(a.ndim):
        a = correlate1d(a, g, axis=ax, mode="constant")
        a = np.take(a, range((n - 1) // 2, a.shape[ax] - (n - 1) // 2), axis=ax)
    return a


def luminance_cs(x, y):
    n = min(11, min(x.shape))
    n = n if n % 2 else n - 1
    mx, my = gaussian_valid(x, n), gaussian_valid(y, n)
    sxx = gaussian_valid(x * x, n) - mx * mx
    syy = gaussian_valid(y * y, n) - my * my
    sxy = gaussian_valid(x * y, n) - mx * my
    c1, c2 = (0.01 * R) ** 2, (0.03 * R) ** 2
    return (2 * mx * my + c1) / (mx * mx + my * my + c1), (2 * sxy + c2) / (sxx + syy + c2)


def pool(a):
    a = a[tuple(slice(0, s // 2 * 2) for s in a.shape)]
    for ax in range(a.ndim):
        a = 0.5 * (np.take(a, range(0, a.shape[ax], 2), axis=ax) +
                   np.take(a, range(1, a.shape[ax], 2), axis=ax))
    return a


def ms_ssim(x, y, scales):
    w = np.array(WEIGHTS[:scales])
    w /= w.sum()
    value = 1.0
    for j in range(scales):
        lum, cs = luminance_cs(x, y)
        if j < scales - 1:
            value *= max(cs.mean(), 0) ** w[j]
            x, y = pool(x), pool(y)
        else:
            value *= max((lum * cs).mean(), 0) ** w[j]
    return value


print("scikit-image", skimage.__version__)
for shape in [(23, 19), (13, 12, 14)]:
    x, y = pair(shape)
    ssim = structural_similarity(x, y, data_range=R, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)
    print(shape, "ssim %.17g" % ssim, "psnr %.17g" % peak_signal_noise_ratio(x, y, data_range=R))
    lum, cs = luminance_cs(x, y)
    assert abs((lum * cs).mean() - ssim) < 1e-12  # the NumPy SSIM agrees with scikit-image
for shape, scales in [((40, 36), 3), ((20, 18, 22), 2)]:
    x, y = pair(shape)
    print(shape, scales, "scales: ms_ssim %.17g" % ms_ssim(x, y, scales))
