/* The CPU training step's element-wise work, each as one or two passes over the data (see __init__.py for why and
 * for how it is built and called). Every array is float32, contiguous, row-major; `groups`/`blocks` index
 * independent slices (a seed of a batched model, a row group of the split batch norm) that never mix, so a NaN in
 * one stays in it. Loops run the channel index (vectors) or the position (feature maps) innermost, so that the
 * compiler vectorises them.
 *
 * The formulas are those of ladder_ops.py's torch versions and of optim.CpuAdam; only the summation order differs
 * (the batch norm's sums over rows are accumulated in double here). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#else  /* built without OpenMP: every loop on the calling thread */
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

typedef int64_t idx;

/* The combinator's arrays are slices of one allocation each (a's and g_a's ten rows); the compiler cannot prove that
 * they do not overlap, and would not vectorise. */
#if defined(__clang__)
#define NO_OVERLAP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define NO_OVERLAP _Pragma("GCC ivdep")
#else
#define NO_OVERLAP
#endif

/* Sums over one channel's run of P positions (a feature map's H x W), in eight lanes so that the compiler
 * vectorises them without reordering what it may not (no -ffast-math). */
static inline double run_sum(const float *restrict x, idx P) {
    double lane[8] = {0};
    idx p = 0;
    for (; p + 8 <= P; p += 8)
        for (int k = 0; k < 8; k++) lane[k] += x[p + k];
    double s = 0;
    for (; p < P; p++) s += x[p];
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

static inline double run_squared_deviation(const float *restrict x, idx P, float m) {
    double lane[8] = {0};
    idx p = 0;
    for (; p + 8 <= P; p += 8)
        for (int k = 0; k < 8; k++) {
            float d = x[p + k] - m;
            lane[k] += (double)(d * d);
        }
    double s = 0;
    for (; p < P; p++) {
        float d = x[p] - m;
        s += (double)(d * d);
    }
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

static inline double run_dot(const float *restrict a, const float *restrict b, idx P) {
    double lane[8] = {0};
    idx p = 0;
    for (; p + 8 <= P; p += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)(a[p + k] * b[p + k]);
    double s = 0;
    for (; p < P; p++) s += (double)(a[p] * b[p]);
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

/* The batch norm kernels split each row group's channels into one contiguous range per thread, over `threads`
 * threads: the caller passes torch's count (one for fc models and seed workers, every core for conv models,
 * cpu_threads.py), explicitly, since another OpenMP runtime than torch's would not know it. Each channel's sums still
 * run over its rows in order in one thread, so the numbers are the same for any number of threads. Small groups stay
 * on one thread: a team costs more than it saves there. */
#define PARALLEL_MIN_VALUES 32768

/* This thread's contiguous share [*begin, *end) of `count` items (channels, planes) in the enclosing team. */
static inline void thread_range(idx count, idx *begin, idx *end) {
    const idx t = omp_get_thread_num(), T = omp_get_num_threads();
    *begin = count * t / T;
    *end = count * (t + 1) / T;
}

/* Batch normalisation of `groups` row groups of n rows x C channels x P positions (P = 1 for vectors): mean, biased
 * var and inv = 1/sqrt(var + eps) per (group, channel) over the rows and positions; xhat = (z - mean) * inv;
 * out = xhat, plus what out already holds (the noise) in the first `noisy` groups of every `per_block` groups.
 * Returns 0, or -1 when out of memory. */
int normalise_forward(idx threads, idx groups, idx per_block, idx noisy, idx n, idx C, idx P, float eps,
                      const float *restrict z, float *restrict xhat, float *restrict out, float *restrict mean,
                      float *restrict inv, float *restrict var) {
    double *acc = malloc(sizeof(double) * (size_t)C);  /* each thread uses its own channels' entries */
    if (!acc) return -1;
    const double count = (double)n * (double)P;
    const idx size = n * C * P;
    for (idx g = 0; g < groups; g++) {
        const float *zg = z + g * size;
        float *mg = mean + g * C, *ig = inv + g * C, *vg = var + g * C;
        float *xg = xhat + g * size, *og = out + g * size;
        const int add_noise = (g % per_block) < noisy;
#pragma omp parallel num_threads(threads) if (threads > 1 && size >= PARALLEL_MIN_VALUES)
        {
            idx c0, c1;
            thread_range(C, &c0, &c1);
            for (idx c = c0; c < c1; c++) acc[c] = 0;
            if (P == 1)  /* vectors: the channel index innermost */
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) acc[c] += zg[r * C + c];
            else
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) acc[c] += run_sum(zg + (r * C + c) * P, P);
            for (idx c = c0; c < c1; c++) {
                mg[c] = (float)(acc[c] / count);
                acc[c] = 0;
            }
            if (P == 1)
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) {
                        float d = zg[r * C + c] - mg[c];
                        acc[c] += (double)(d * d);
                    }
            else
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) acc[c] += run_squared_deviation(zg + (r * C + c) * P, P, mg[c]);
            for (idx c = c0; c < c1; c++) {
                vg[c] = (float)(acc[c] / count);
                ig[c] = 1.0f / sqrtf(vg[c] + eps);
            }
            if (P == 1)
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) {
                        float x = (zg[r * C + c] - mg[c]) * ig[c];
                        xg[r * C + c] = x;
                        og[r * C + c] = add_noise ? og[r * C + c] + x : x;
                    }
            else
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) {
                        const idx o = (r * C + c) * P;
                        const float m = mg[c], i = ig[c];
                        for (idx p = 0; p < P; p++) {
                            float x = (zg[o + p] - m) * i;
                            xg[o + p] = x;
                            og[o + p] = add_noise ? og[o + p] + x : x;
                        }
                    }
        }
    }
    free(acc);
    return 0;
}

/* The gradient of normalise_forward's out (g_out, may be NULL: zero), mean (g_mean, may be NULL) and inv (g_inv, may
 * be NULL) with respect to z, m = n P values per (group, channel):
 * inv * (g - mean(g) - xhat * mean(g xhat)) + g_mean / m - g_inv inv^2 xhat / m. */
int normalise_backward(idx threads, idx groups, idx n, idx C, idx P, const float *restrict g_out,
                       const float *restrict xhat, const float *restrict inv, const float *restrict g_mean,
                       const float *restrict g_inv, float *restrict g_z) {
    double *sums = malloc(sizeof(double) * 2 * (size_t)C);  /* each thread uses its own channels' entries */
    float *coef = malloc(sizeof(float) * 2 * (size_t)C);
    if (!sums || !coef) {
        free(sums), free(coef);
        return -1;
    }
    double *sum_g = sums, *sum_gx = sums + C;
    float *shift = coef, *slope = coef + C;
    const double count = (double)n * (double)P;
    const idx size = n * C * P;
    for (idx g = 0; g < groups; g++) {
        const float *xg = xhat + g * size, *ig = inv + g * C;
        const float *gg = g_out ? g_out + g * size : NULL;
        float *zg = g_z + g * size;
#pragma omp parallel num_threads(threads) if (threads > 1 && size >= PARALLEL_MIN_VALUES)
        {
            idx c0, c1;
            thread_range(C, &c0, &c1);
            for (idx c = c0; c < c1; c++) sum_g[c] = sum_gx[c] = 0;
            if (gg && P == 1)
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) {
                        sum_g[c] += gg[r * C + c];
                        sum_gx[c] += (double)(gg[r * C + c] * xg[r * C + c]);
                    }
            else if (gg)
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) {
                        const idx o = (r * C + c) * P;
                        sum_g[c] += run_sum(gg + o, P);
                        sum_gx[c] += run_dot(gg + o, xg + o, P);
                    }
            for (idx c = c0; c < c1; c++) {
                shift[c] = -(float)(sum_g[c] / count) * ig[c];
                slope[c] = -(float)(sum_gx[c] / count) * ig[c];
                if (g_mean) shift[c] += (float)(g_mean[g * C + c] / count);
                if (g_inv) slope[c] -= (float)(g_inv[g * C + c] * ig[c] * ig[c] / count);
            }
            if (P == 1)
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) {
                        float v = shift[c] + xg[r * C + c] * slope[c];
                        zg[r * C + c] = gg ? v + gg[r * C + c] * ig[c] : v;
                    }
            else
                for (idx r = 0; r < n; r++)
                    for (idx c = c0; c < c1; c++) {
                        const idx o = (r * C + c) * P;
                        const float sh = shift[c], sl = slope[c], i = ig[c];
                        for (idx p = 0; p < P; p++) {
                            float v = sh + xg[o + p] * sl;
                            zg[o + p] = gg ? v + gg[o + p] * i : v;
                        }
                    }
        }
    }
    free(sums), free(coef);
    return 0;
}

/* The vanilla combinator out = mu + (z - mu) v, mu = a1 s1 + a4 u + a5, v = a6 s2 + a9 u + a10, given the
 * sigmoids s1 = sigmoid(a2 u + a3), s2 = sigmoid(a7 u + a8) (torch's vectorised sigmoid computes them).
 * z, u, s1, s2, out: blocks x n x C; a: blocks x 10 x C (rows a1..a10). */
void combinator_forward(idx blocks, idx n, idx C, const float *restrict z, const float *restrict u,
                        const float *restrict a, const float *restrict s1, const float *restrict s2,
                        float *restrict out) {
    for (idx b = 0; b < blocks; b++) {
        const float *ab = a + b * 10 * C;
        const float *a1 = ab, *a4 = ab + 3 * C, *a5 = ab + 4 * C, *a6 = ab + 5 * C, *a9 = ab + 8 * C,
                    *a10 = ab + 9 * C;
        for (idx r = 0; r < n; r++) {
            idx o = (b * n + r) * C;
            NO_OVERLAP
            for (idx c = 0; c < C; c++) {
                float uu = u[o + c];
                float mu = a5[c] + a4[c] * uu + a1[c] * s1[o + c];
                float v = a10[c] + a9[c] * uu + a6[c] * s2[o + c];
                out[o + c] = mu + (z[o + c] - mu) * v;
            }
        }
    }
}

/* The combinator's backward pass: from g = d cost / d out, g_z and g_u (blocks x n x C) and g_a (blocks x 10 x C,
 * each row summed over the n rows, in float as torch sums them). */
void combinator_backward(idx blocks, idx n, idx C, const float *restrict g, const float *restrict z,
                         const float *restrict u, const float *restrict a, const float *restrict s1,
                         const float *restrict s2, float *restrict g_z, float *restrict g_u, float *restrict g_a) {
    for (idx b = 0; b < blocks; b++) {
        const float *ab = a + b * 10 * C;
        const float *a1 = ab, *a2 = ab + C, *a4 = ab + 3 * C, *a5 = ab + 4 * C, *a6 = ab + 5 * C, *a7 = ab + 6 * C,
                    *a9 = ab + 8 * C, *a10 = ab + 9 * C;
        float *gab = g_a + b * 10 * C;
        float *ga1 = gab, *ga2 = gab + C, *ga3 = gab + 2 * C, *ga4 = gab + 3 * C, *ga5 = gab + 4 * C,
              *ga6 = gab + 5 * C, *ga7 = gab + 6 * C, *ga8 = gab + 7 * C, *ga9 = gab + 8 * C, *ga10 = gab + 9 * C;
        memset(gab, 0, sizeof(float) * 10 * (size_t)C);
        for (idx r = 0; r < n; r++) {
            idx o = (b * n + r) * C;
            NO_OVERLAP
            for (idx c = 0; c < C; c++) {
                float uu = u[o + c], t1s = s1[o + c], t2s = s2[o + c], gg = g[o + c];
                float mu = a5[c] + a4[c] * uu + a1[c] * t1s;
                float v = a10[c] + a9[c] * uu + a6[c] * t2s;
                float gz = gg * v;
                float g_mu = gg - gz;                          /* d/dmu: g (1 - v) */
                float g_v = gg * (z[o + c] - mu);              /* d/dv: g (z - mu) */
                float q1 = g_mu * t1s * (1.0f - t1s) * a1[c];  /* d/da3 */
                float q2 = g_v * t2s * (1.0f - t2s) * a6[c];   /* d/da8 */
                g_z[o + c] = gz;
                g_u[o + c] = q1 * a2[c] + g_mu * a4[c] + q2 * a7[c] + g_v * a9[c];
                ga1[c] += g_mu * t1s;
                ga2[c] += q1 * uu;
                ga3[c] += q1;
                ga4[c] += g_mu * uu;
                ga5[c] += g_mu;
                ga6[c] += g_v * t2s;
                ga7[c] += q2 * uu;
                ga8[c] += q2;
                ga9[c] += g_v * uu;
                ga10[c] += g_v;
            }
        }
    }
}

/* One Adam step of n parameters, in one pass: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= step_size m / (sqrt(v) + eps), where the caller has folded the bias corrections into step_size and eps. */
void adam_step(idx n, float *restrict p, const float *restrict grad, float *restrict m, float *restrict v, float beta1,
               float beta2, float step_size, float eps) {
    for (idx i = 0; i < n; i++) {
        float gi = grad[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) + eps);
    }
}

/* 2x2 max pooling with stride 2 over `planes` maps of H x W (rows and columns past an even count dropped, as torch's
 * floor mode does): y the window maxima, which[i] the offset (2 dy + dx) of the value each took. The value is picked
 * as torch's CPU kernel picks it, so that the gradient goes where torch's goes: the first maximum in row order, and a
 * NaN over anything (the last NaN of its window). Each plane's four window positions are first copied apart into
 * contiguous runs, so that the comparisons vectorise (strided in place, they ran 7x slower). Returns 0, or -1 when
 * out of memory. */
int max_pool_2x2_forward(idx threads, idx planes, idx H, idx W, const float *restrict x, float *restrict y,
                         uint8_t *restrict which) {
    const idx Ho = H / 2, Wo = W / 2, n = Ho * Wo;
    int failed = 0;
#pragma omp parallel num_threads(threads) if (threads > 1 && planes * H * W >= PARALLEL_MIN_VALUES) reduction(| : failed)
    {
        float *window = malloc(sizeof(float) * 4 * (size_t)(n > 0 ? n : 1));  /* this thread's */
        idx p0, p1;
        thread_range(planes, &p0, &p1);
        if (!window) {
            failed = 1;
            p1 = p0;
        }
        for (idx p = p0; p < p1; p++) {
            float *restrict a = window, *restrict b = window + n, *restrict c = window + 2 * n,
                  *restrict d = window + 3 * n;
            for (idx i = 0; i < Ho; i++) {
                const float *top = x + (p * H + 2 * i) * W, *bottom = top + W;
                for (idx j = 0; j < Wo; j++) {
                    a[i * Wo + j] = top[2 * j];
                    b[i * Wo + j] = top[2 * j + 1];
                    c[i * Wo + j] = bottom[2 * j];
                    d[i * Wo + j] = bottom[2 * j + 1];
                }
            }
            float *out = y + p * n;
            uint8_t *taken = which + p * n;
            for (idx o = 0; o < n; o++) {  /* the scan of torch's kernel unrolled, branch-free */
                float best = a[o];
                uint8_t k = 0;
                const int take_b = (b[o] > best) | (b[o] != b[o]);
                best = take_b ? b[o] : best;
                k = take_b ? 1 : k;
                const int take_c = (c[o] > best) | (c[o] != c[o]);
                best = take_c ? c[o] : best;
                k = take_c ? 2 : k;
                const int take_d = (d[o] > best) | (d[o] != d[o]);
                best = take_d ? d[o] : best;
                k = take_d ? 3 : k;
                out[o] = best;
                taken[o] = k;
            }
        }
        free(window);
    }
    return failed ? -1 : 0;
}

/* The gradient of max_pool_2x2_forward: g_x (planes, H, W) holds g_y at the value each window took, zero elsewhere
 * (0 + g, as torch accumulates into zeros, so that a -0 gradient arrives as +0 there too). */
void max_pool_2x2_backward(idx threads, idx planes, idx H, idx W, const float *restrict g_y,
                           const uint8_t *restrict which, float *restrict g_x) {
    const idx Ho = H / 2, Wo = W / 2;
#pragma omp parallel for num_threads(threads) if (threads > 1 && planes * H * W >= PARALLEL_MIN_VALUES) schedule(static)
    for (idx p = 0; p < planes; p++) {
        memset(g_x + p * H * W, 0, sizeof(float) * (size_t)(H * W));
        for (idx i = 0; i < Ho; i++) {
            float *top = g_x + (p * H + 2 * i) * W, *bottom = top + W;
            const float *g = g_y + (p * Ho + i) * Wo;
            const uint8_t *taken = which + (p * Ho + i) * Wo;
            for (idx j = 0; j < Wo; j++) {
                float *row = taken[j] < 2 ? top : bottom;
                row[2 * j + (taken[j] & 1)] += g[j];
            }
        }
    }
}
