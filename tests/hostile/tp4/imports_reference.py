"""Uses the course's recall_at_k for recall_at_k (flagged, zero: vitcourse.zeroshot does not exist in TP4's
sandbox); the other three parts are honest and correct (full marks)."""
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from vitcourse.zeroshot import recall_at_k as course_recall


def recall_at_k(similarity, positives, ks=(1, 5, 10)):
    eye = torch.eye(similarity.shape[1])
    return course_recall(similarity, eye, positives, ks)        # similarity rows as queries against unit vectors


def siglip_loss(image_features, text_features, logit_scale, logit_bias, positives=None):
    img, txt = F.normalize(image_features, dim=-1), F.normalize(text_features, dim=-1)
    t = torch.as_tensor(logit_scale, dtype=img.dtype)
    logits = t.exp() * img @ txt.T + torch.as_tensor(logit_bias, dtype=img.dtype)
    z = 2 * torch.eye(len(img), dtype=img.dtype) - 1
    return -F.logsigmoid(z * logits).sum() / len(img)


def zero_shot_classifier(model, tokenizer, classnames, templates):
    with torch.no_grad():
        emb = F.normalize(model.encode_text(tokenizer([t.format(c) for c in classnames for t in templates])), dim=-1)
    return F.normalize(emb.reshape(len(classnames), len(templates), -1).mean(dim=1), dim=-1)


def zero_shot_predict(image_features, classifier):
    return (F.normalize(image_features, dim=-1) @ F.normalize(classifier, dim=-1).T).argmax(dim=1)


def per_class_metrics(y_true, y_pred, num_classes):
    y, p = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(num_classes))
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    return {"confusion": confusion_matrix(y, p, labels=labels), "precision": prec, "recall": rec, "f1": f1,
            "support": sup, "macro_precision": prec.mean(), "macro_recall": rec.mean(), "macro_f1": f1.mean(),
            "accuracy": float((y == p).mean())}
