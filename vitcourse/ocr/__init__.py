"""OCR with transformers (class 7): rendered text lines, a character vocabulary, a CTC reader and a
TrOCR-style encoder-decoder reader on the package's ViT, CER/WER, real OCR engines as baselines, and
the real page of scikit-image."""
from .charset import PRINTABLE, OCRTokenizer
from .ctc import CTCReader, ctc_reader
from .decode import ctc_collapse, ctc_greedy_decode, ctc_labelling_log_prob, ctc_prefix_beam_search
from .metrics import cer, error_rates, line_cers, normalize, wer
from .reader import as_batch, ocr_encoder_decoder, read, reader_loss
from .render import FONTS, HELD_OUT_FONTS, TRAIN_FONTS, corpus_lines, font_path, render_line, render_lines, text_width
from .train import train_reader

__all__ = ["PRINTABLE", "OCRTokenizer", "CTCReader", "ctc_reader", "ctc_collapse", "ctc_greedy_decode",
           "ctc_labelling_log_prob", "ctc_prefix_beam_search", "cer", "error_rates", "line_cers", "normalize", "wer",
           "as_batch", "ocr_encoder_decoder", "read", "reader_loss", "FONTS", "HELD_OUT_FONTS", "TRAIN_FONTS",
           "corpus_lines", "font_path", "render_line", "render_lines", "text_width", "train_reader"]
