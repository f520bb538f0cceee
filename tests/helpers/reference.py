"""Float64 NumPy re-derivations of the paper's equations, written independently of mmdet_tde."""
import math

import numpy as np


def ref_norm(x_norm, w_norm, norm, gamma):
    """N(x, w) of the supplement's Eq. (1)."""
    return {'deconfound': x_norm * (w_norm + gamma), 'cosine': x_norm * w_norm,
            'capsule': (x_norm + 1) * w_norm}[norm]


def ref_logits(x, w, K, tau, gamma, norm='deconfound'):
    """Eq. (7), one sample, one class, one head at a time."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    dk = x.shape[1] // K
    z = np.zeros((x.shape[0], w.shape[0]))
    for s in range(x.shape[0]):
        for i in range(w.shape[0]):
            for k in range(K):
                xk, wk = x[s, k * dk:(k + 1) * dk], w[i, k * dk:(k + 1) * dk]
                z[s, i] += wk @ xk / ref_norm(np.linalg.norm(xk), np.linalg.norm(wk), norm, gamma)
    return tau / K * z


def ref_tde(x, w, dbar, K, tau, gamma, alpha, norm='deconfound'):
    """Eq. (8): the head-direction part cos(x, d_hat) ||x|| d_hat goes through the same norm."""
    x, w, dbar = (np.asarray(a, np.float64) for a in (x, w, dbar))
    dk = x.shape[1] // K
    cf = np.zeros((x.shape[0], w.shape[0]))
    for s in range(x.shape[0]):
        for i in range(w.shape[0]):
            for k in range(K):
                xk, wk = x[s, k * dk:(k + 1) * dk], w[i, k * dk:(k + 1) * dk]
                dhat = dbar[k * dk:(k + 1) * dk] / np.linalg.norm(dbar[k * dk:(k + 1) * dk])
                cos = xk @ dhat / np.linalg.norm(xk)
                cf[s, i] += cos * np.linalg.norm(xk) * (wk @ dhat) / ref_norm(
                    np.linalg.norm(xk), np.linalg.norm(wk), norm, gamma)
    return ref_logits(x, w, K, tau, gamma, norm) - alpha * tau / K * cf


def softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def ref_bg_exempted(z, t):
    """Eq. (9) with the background in the last column."""
    p, q = softmax(z), softmax(t)
    out = (1 - p[:, -1:]) * q / (1 - q[:, -1:])
    out[:, -1] = p[:, -1]
    return out


def ref_logit_adjustment(z, counts, tau, background_exempted):
    """Post-hoc logit adjustment (Menon et al., ICLR 2021, arXiv:2007.07314), background last:
    the foreground logits lose tau * log(prior). Exempted: the background keeps softmax(z)'s
    probability and the classes share the rest as softmax over their adjusted logits alone."""
    z = np.asarray(z, np.float64)
    prior = np.asarray(counts, np.float64) / np.sum(counts)
    adjusted = z[:, :-1] - tau * np.log(prior)
    if not background_exempted:
        return softmax(np.concatenate([adjusted, z[:, -1:]], axis=1))
    p_bg = softmax(z)[:, -1:]
    return np.concatenate([(1 - p_bg) * softmax(adjusted), p_bg], axis=1)


# Dual-phase modeling, "Asynchronous Modeling: a dual-phase perspective for long-tailed
# recognition" (ICLR 2021 submission, OpenReview u846Bqhry_), in plain Python floats.

def ref_cos(a, b):
    na, nb = math.sqrt(sum(v * v for v in a)), math.sqrt(sum(v * v for v in b))
    if na == 0 or nb == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


def ref_select(feats, num):
    """Eq. 2-5 by hand (exemplar selection, cosine similarity): the first strictly better
    candidate wins, so ties go to the lowest index."""
    feats = [list(map(float, row)) for row in feats]
    n, d = len(feats), len(feats[0])
    if n <= num:
        return list(range(n))
    c = [sum(row[t] for row in feats) / n for t in range(d)]
    query, chosen = c, []
    for _ in range(num):
        best, best_s = None, -math.inf
        for i in range(n):
            if i not in chosen and ref_cos(query, feats[i]) > best_s:
                best, best_s = i, ref_cos(query, feats[i])
        chosen.append(best)
        e = [math.exp(ref_cos(c, feats[m])) for m in chosen]
        p = [v / sum(e) for v in e]
        z = [sum(p[k] * feats[m][t] for k, m in enumerate(chosen)) for t in range(d)]
        query = [c[t] + (c[t] - z[t]) for t in range(d)]
    return chosen


def ref_graph(z_old, z_new, reduction):
    """Eq. 6-8 by hand: a_ji is normalised over the new nodes j for each old node i."""
    n = len(z_old)
    total = 0.0
    for i in range(n):
        e = [math.exp(ref_cos(z_old[i], z_new[j])) for j in range(n)]
        mu = sum(e[j] / sum(e) * math.sqrt(sum((a - b) ** 2 for a, b in zip(z_old[i], z_new[j])))
                 for j in range(n))
        total += mu
    return total if reduction == 'sum' else total / n
