"""recfeat_ref: the tested reference package behind the *recfeat* book.

Deep ("large") models for recommender-system feature engineering, taught
from scratch and checked against well-kept libraries.

Modules
-------
exceptions     The package's exceptions, in one place, and what each subclasses.
datasets       MovieLens-100K loader (cached, verified) and the article's
               synthetic behaviour data.
synthetic      The article's schema as labelled synthetic data.
preprocessing  Cleaning rules, ID encoders, scalers, one-hot encoding.
features       scikit-learn transformers: scaling, buckets, encoders, hashing,
               out-of-fold target encoding, temporal and aggregate features.
selection      Correlation, mutual information, permutation importance, L1.
splits         Seeded train/validation/test splits.
metrics        Classification, rating, ranking and beyond-accuracy metrics.
losses         The mathematics chapter: a layer's forward pass, MSE, BCE.
models         The article's MLP and biased matrix factorisation (torch modules).
training       One trainer for every model in the book; the top-N epoch loop.
recommender    The Recommender interface and the evaluation protocols.
baselines      Global mean, user/item biases, popularity.
knn            Item- and user-based neighbourhood collaborative filtering.
content        Content-based filtering on genres, decade and title.
mf             Biased matrix factorisation and BPR-MF recommenders.
linear         EASE (closed form) and iALS (alternating least squares): strong simple top-N baselines.
autoencoders   I-AutoRec, Mult-DAE and Mult-VAE.
graph          LightGCN on the user-item graph.
gan            CFGAN.
sequential     GRU4Rec, Caser, SASRec and next-item baselines.
text           A pretrained language model (all-MiniLM-L6-v2) as a feature extractor.
ctr            The click-through protocol's features (side information, buckets).
neural         Logistic regression, FM, DeepFM, DCN-v2, NeuMF; field gates and fusion.
augment        Negative sampling, implicit-feedback noise, sequence augmentations.
hybrid         A LightFM-style ranker whose vectors are fused from feature fields.
ablation       Feature groups for an ablation study; paired gains over seeds.
stats          The book's one comparison rule: a paired 95 % interval and its verdict.
interpret      Integrated gradients and permutation importance.
privacy        Pseudonymisation, k-anonymity, DP-SGD with an RDP accountant, membership inference.
compression    Quantisation, pruning, distillation, hashed embeddings.
distributed    Data-parallel training with DistributedDataParallel.
book           Helpers for the book's notebooks (glue).
"""

__version__ = "0.1.0"

#: Column names shared by every module (one place, like Microsoft Recommenders).
DEFAULT_USER_COL = "user_id"
DEFAULT_ITEM_COL = "item_id"
DEFAULT_RATING_COL = "rating"
DEFAULT_TIMESTAMP_COL = "timestamp"
DEFAULT_PREDICTION_COL = "prediction"

__all__ = [
    "__version__",
    "DEFAULT_USER_COL",
    "DEFAULT_ITEM_COL",
    "DEFAULT_RATING_COL",
    "DEFAULT_TIMESTAMP_COL",
    "DEFAULT_PREDICTION_COL",
]
