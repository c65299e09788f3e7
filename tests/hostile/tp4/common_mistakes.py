"""Typical slips, one per part: SigLIP's sum averaged over all B^2 pairs instead of divided by B, the prompt
ensemble averaging unnormalised template embeddings, macro averages over the classes present only (scikit-learn's
default labels), recall@K as the fraction of a query's correct items retrieved. Each loses only its own share."""
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def siglip_loss(image_features, text_features, logit_scale, logit_bias, positives=None):
    img, txt = F.normalize(image_features, dim=-1), F.normalize(text_features, dim=-1)
    logits = torch.as_tensor(logit_scale, dtype=img.dtype).exp() * img @ txt.T + logit_bias
    z = 2 * torch.eye(len(img), dtype=img.dtype) - 1
    return -F.logsigmoid(z * logits).mean()                       # / B^2, not / B


def zero_shot_classifier(model, tokenizer, classnames, templates):
    with torch.no_grad():
        emb = model.encode_text(tokenizer([t.format(c) for c in classnames for t in templates]))
    return F.normalize(emb.reshape(len(classnames), len(templates), -1).mean(dim=1), dim=-1)   # not normalised first


def zero_shot_predict(image_features, classifier):
    return (F.normalize(image_features, dim=-1) @ F.normalize(classifier, dim=-1).T).argmax(dim=1)


def per_class_metrics(y_true, y_pred, num_classes):
    y, p = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(num_classes))
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(y, p, average="macro", zero_division=0)   # present classes only
    return {"confusion": confusion_matrix(y, p, labels=labels), "precision": prec, "recall": rec, "f1": f1,
            "support": sup, "macro_precision": mp, "macro_recall": mr, "macro_f1": mf,
            "accuracy": float((y == p).mean())}


def recall_at_k(similarity, positives, ks=(1, 5, 10)):
    out = {}
    for k in ks:
        top = similarity.topk(k, dim=1).indices
        hits = positives.gather(1, top).sum(dim=1).double() / positives.sum(dim=1)        # share of positives found
        out[k] = hits.mean().item()
    return out
