"""The numpydoc entries of the estimators' parameters, each written once.

An estimator's docstring composes its Parameters section from these entries with
:func:`parameters`, in the order of its signature: its own parameters, then the training
parameters of :class:`~sk_ctr.estimators.base.CTRClassifier` (:func:`training_parameters`).
A parameter whose meaning or default differs in one model (``embed_dim`` of FFM, ``lr`` of the
models without an MLP) has its own entry, next to that model or here when several share it.
tests/test_docs.py checks that every estimator documents exactly its signature's parameters.
"""

import textwrap

# ---------------------------------------------------------------- training (CTRClassifier)
PREPROCESSOR = """\
preprocessor : CTRTransformer, default=None
    Unfitted transformer to clone and fit on raw input; ``None`` uses ``CTRTransformer()``.
"""

L2 = """\
l2 : float, default=0.0
    L2 penalty on the embedding rows and order-1 weights used by each sample (DeepFM
    journal, section III-B: L2 on the FM component), averaged over the batch.
"""

OPTIMIZER = """\
optimizer : {"adam", "adamw", "adagrad", "sgd", "rmsprop"} or torch optimizer class, \
default="adam"
    The optimizer; its extra arguments go in ``optimizer__<name>=``.
"""

LR = """\
lr : float, default=3e-3
    Learning rate (the models without an MLP default to 1e-2). Chosen on validation
    splits: 3e-3 beat 1e-3 and 1e-2 for DeepFM on the Criteo sample and was within the
    seed spread of the best on Frappe (docs/defaults.md).
"""

BATCH_SIZE = """\
batch_size : int or "auto", default="auto"
    Mini-batch size, for training and prediction. ``"auto"`` trains with batches of the
    power of two nearest to ``1.5 * sqrt(n_samples)``, between 32 and 2048 (128 for 7,000
    rows, 256 for 40,000; set as ``batch_size_``), and predicts 2048 rows at a time.
"""

MAX_EPOCHS = """\
max_epochs : int, default=50
    Most passes over the training data; early stopping usually ends training well
    before (after 6 epochs on the Criteo sample, 33 on Frappe).
"""

EARLY_STOPPING = """\
early_stopping : "auto" or bool, default="auto"
    Hold out ``validation_fraction`` of the training rows (stratified), or use
    ``X_val`` / ``y_val`` given to :meth:`fit`, score them after every epoch, stop when
    ``scoring`` has not improved by more than ``tol`` for ``n_iter_no_change`` epochs and
    restore the weights of the best epoch. ``"auto"``: on whenever the held-out rows would
    hold at least 5 rows of each class (and always with ``X_val``): CTR networks
    typically over-fit after one to three epochs, and even a noisy stop beats 50 blind
    epochs (399 Avazu rows: log-loss 0.44 against 2.9; docs/defaults.md).
"""

SCORING = """\
scoring : str or callable, default="roc_auc"
    What early stopping monitors: ``"loss"`` (the validation log-loss, skorch's
    ``valid_loss``; lower is better) or a scikit-learn scorer name or callable
    (``"roc_auc"``, ``"neg_log_loss"`` ...; higher is better). The validation log-loss and
    ROC AUC are recorded in ``history_`` in any case. The validation log-loss of CTR
    networks rises after one or two epochs while their ranking still improves (Frappe:
    stopping on the loss kept DeepFM at 0.921 validation AUC, on the AUC 0.937); the
    temperature of ``calibration`` then repairs the probabilities.
"""

VALIDATION_FRACTION = """\
validation_fraction : float, default=0.1
    Share of the training rows held out for early stopping (without ``X_val``).
"""

N_ITER_NO_CHANGE = """\
n_iter_no_change : int, default=5
    Patience of early stopping, in epochs (3 stopped DeepFM on a plateau of Frappe's
    validation AUC at 0.924; 5 and 6 reached 0.937).
"""

TOL = """\
tol : float, default=1e-4
    Smallest absolute improvement of the monitored score that counts as one.
"""

CALIBRATION = """\
calibration : {"auto", "temperature", "isotonic"} or None, default="auto"
    Post-hoc calibration on the validation rows of early stopping, after training.
    ``"temperature"`` (Guo et al., ICML 2017): one scalar ``temperature_`` divides every
    logit, correcting the over-confidence of networks trained for several epochs.
    ``"isotonic"``: then a non-decreasing piecewise-linear map of the scaled logit to the
    probability (``isotonic_knots_``), with ties broken by the logit, kept within
    1 / (n_pos + 2) and 1 - 1 / (n_neg + 2) of the validation rows. ``"auto"``:
    isotonic when the validation rows hold at least 1,000 rows of each class (below, it
    over-fits: docs/defaults.md), else the temperature. None of them changes any ranking
    (AUC). ``None``, or a fit without validation rows: ``temperature_ = 1``.
"""

THRESHOLD = """\
threshold : float, default=0.5
    Probability above which ``predict`` returns the positive class.
"""

NEGATIVE_SAMPLING_RATE = """\
negative_sampling_rate : float, default=None
    The share w of negatives kept when the training data was negatively down-sampled
    (the AutoFIS paper's Criteo set keeps ~50 % positives). Predictions are corrected to
    the original base rate, p' = p / (p + (1 - p) / w), i.e. the log-odds shift by log w
    (``decision_function`` too); rankings and AUC are unchanged. ``None``: no correction.
"""

DEVICE = """\
device : str, default="cpu"
    Torch device, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"`` (CUDA when a GPU
    is available, else CPU; resolved at each call, the parameter keeps ``"auto"``).
"""

DEVICES = """\
devices : int or list of int, default=None
    Data-parallel training (DeepFM journal section III-B-2, "Multi-GPU Architecture"):
    a number of GPUs or a list of GPU ids with ``device="cuda"``; a number of worker
    processes with ``device="cpu"`` (DDP over gloo: slower than one process on CPU, it
    exists to test the multi-process path). ``batch_size`` is per device, so the global
    batch is ``batch_size * devices``. ``None`` trains in one process. Inside a
    ``torchrun`` job (a process group exists) the estimator joins the group instead,
    whatever ``devices`` says: see docs/distributed.md.
"""

STRATEGY = """\
strategy : {"auto", "ddp", "dp"}, default="auto"
    ``"ddp"`` (and ``"auto"``): ``fit`` spawns one DistributedDataParallel process per
    device; the estimator and its ``module`` class must be importable (not defined in a
    notebook). ``"dp"``: ``nn.DataParallel`` inside this process (CUDA only; no spawn, so
    it works with notebook-defined classes, but is slower than DDP).
"""

LR_SCALING = """\
lr_scaling : {"sqrt", "linear"} or None, default="sqrt"
    Learning rate of a data-parallel fit: ``lr * sqrt(world_size)`` (the journal's
    "4GPU-A": a global batch W times larger has W times less gradient variance, so lr may
    grow by sqrt(W) and the learning curve matches one device's), ``lr * world_size``, or
    ``lr`` unchanged. Ignored on one device.
"""

DDP_TIMEOUT = """\
ddp_timeout : float, default=600
    Seconds a worker of a spawned data-parallel fit (``devices=`` with
    ``strategy="ddp"``) may wait for the other ranks in a collective operation (the
    process group's timeout) or go without finishing a batch (checked by ``fit``) before
    ``fit`` stops every worker and raises a ``TimeoutError``. A worker's start, until its
    first batch, may take ``max(ddp_timeout, 300)`` seconds. See docs/distributed.md.
"""

SPARSE_EMBEDDINGS = """\
sparse_embeddings : bool, default=False
    Sparse gradients for the embedding tables, trained by ``torch.optim.SparseAdam`` (lazy
    Adam: a row's moments change only when the row is used) next to ``optimizer`` for the
    rest, one forward/backward per batch. Several times faster with large tables
    (notes/skorch-study.md, section 8); use ``l2`` (not weight decay) to regularise them.
"""

PREFETCH = """\
prefetch : bool, default=False
    Asynchronous reading (DeepFM journal section III-B-2, "Asyn"): the next batch is
    sliced (and, on CUDA, pinned and copied to the device) in a background thread while
    the current one trains. Measured on this 2-core CPU machine: no gain (0.99-1.01x,
    reading is 0.4 % of an epoch; docs/benchmarks.md); the journal measured 1.12-1.19x on
    GPUs. Applies to the default in-memory loader.
"""

N_THREADS = """\
n_threads : int, default=None
    Torch threads inside ``fit`` and ``predict``; the previous value is restored after.
    ``None`` leaves torch's setting alone (which respects joblib's limits under
    ``GridSearchCV(n_jobs=...)``; raising it there oversubscribes the cores).
"""

RANDOM_STATE = """\
random_state : int, RandomState instance or None, default=None
    Seeds weight initialisation, dropout and shuffling for reproducible fits. Torch's
    global random state is restored afterwards.
"""

VERBOSE = """\
verbose : int, default=0
    ``>0`` shows a progress bar and a table of train loss, validation AUC and validation
    log-loss (``valid_loss``) per epoch.
"""

WARM_START = """\
warm_start : bool, default=False
    ``fit`` continues training the fitted network with the fitted transformer and
    labels instead of starting over.
"""

CALLBACKS = """\
callbacks : list of (str, skorch.callbacks.Callback), default=None
    skorch callbacks run beside the estimator's own (early stopping, calibration, the
    epoch table ...), e.g. ``[("checkpoint", skorch.callbacks.Checkpoint(...))]``.
"""

SKORCH_PARAMS = """\
**skorch_params
    skorch's own settings, for what the parameters above do not cover: the optimizer's
    arguments (``optimizer__weight_decay=1e-5``; ``GridSearchCV`` searches them like any
    parameter), a custom network class (``module=``) or loader (``iterator_train=``) and
    their arguments (``iterator_train__<name>=``). ``get_params`` lists the ones that are
    set. Another name raises a ``TypeError``; the network's arguments are the estimator's
    parameters, so ``module__<name>=`` raises at ``fit`` naming the parameter to set.
"""

#: The entries of CTRClassifier's parameters, in the order of its signature.
TRAINING = (
    PREPROCESSOR,
    L2,
    OPTIMIZER,
    LR,
    BATCH_SIZE,
    MAX_EPOCHS,
    EARLY_STOPPING,
    SCORING,
    VALIDATION_FRACTION,
    N_ITER_NO_CHANGE,
    TOL,
    CALIBRATION,
    THRESHOLD,
    NEGATIVE_SAMPLING_RATE,
    DEVICE,
    DEVICES,
    STRATEGY,
    LR_SCALING,
    DDP_TIMEOUT,
    SPARSE_EMBEDDINGS,
    PREFETCH,
    N_THREADS,
    RANDOM_STATE,
    VERBOSE,
    WARM_START,
    CALLBACKS,
    SKORCH_PARAMS,
)

# ------------------------------------------------ shared by several models (in their order)
LR_OF_SHALLOW_MODELS = """\
lr : float, default=1e-2
    Learning rate. Higher than the deep models' 3e-3: the few weights per id of a model
    without an MLP learn slowly at 1e-3 and 3e-3 (measured on validation splits,
    docs/defaults.md).
"""

EMBED_DIM = """\
embed_dim : int, default=10
    Size k of the field embeddings (the journal uses 10 for FM and DeepFM on Criteo).
"""

INIT_STD = """\
init_std : float, default=0.01
    Standard deviation of the normal initialisation of the embeddings.
"""

INIT_STD_FACTORIZATION = """\
init_std : float, default=0.01
    Standard deviation of the normal initialisation of the embeddings. Keep it small: the
    order-2 term sums m(m-1)/2 products and with N(0, 1) vectors swamps the rest.
"""

INTERACTIONS = """\
interactions : list of tuple of str, default=None
    Keep only these field pairs (and triples, as AutoFIS eq. 4) in the order-2 interaction
    layer, e.g. ``AutoFISClassifier(...).fit(X, y).selected_interactions_``: AutoFIS's
    selections transfer between models (section 4.4). ``None`` keeps every pair.
"""

INTERACTIONS_PAIRS = """\
interactions : list of tuple of str, default=None
    Keep only these field pairs in the order-2 interaction layer, e.g. the pairs of
    ``AutoFISClassifier(...).fit(X, y).selected_interactions_``: AutoFIS's selections
    transfer between models (section 4.4). ``None`` keeps every pair.
"""

HIDDEN_UNITS = """\
hidden_units : tuple of int, default=(400, 400, 400)
    Widths of the hidden layers (journal Table III on Criteo: 400-400-400).
"""

ACTIVATION = """\
activation : {"relu", "tanh", "sigmoid", "prelu", "dice"}, default="relu"
    Activation of the hidden layers.
"""

DROPOUT = """\
dropout : float, default=0.5
    Probability of dropping a hidden unit. The journal reports the keep probability
    (0.5 on Criteo-Random), i.e. ``1 - dropout``.
"""

BATCH_NORM = """\
batch_norm : bool, default=False
    Batch normalisation after each hidden layer's linear map.
"""

#: The entries of a multi-layer perceptron's parameters (DNN, DeepFM, PNN, DCN ...).
MLP = (HIDDEN_UNITS, ACTIVATION, DROPOUT, BATCH_NORM)


def parameters(*entries):
    """The entries as the body of a Parameters section of a class docstring (indented by four
    spaces, like the docstring's other lines).

    Parameters
    ----------
    *entries : str
        numpydoc entries (``name : type, default=...`` and the indented description).

    Returns
    -------
    str
    """
    return "\n".join(textwrap.indent(entry.rstrip("\n"), "    ") for entry in entries)


def training_parameters(*own):
    """The entries of :data:`TRAINING` with a model's ``own`` entries of the same parameters
    (another default) in their place.

    Parameters
    ----------
    *own : str
        Entries of training parameters whose default the model changes, e.g.
        :data:`LR_OF_SHALLOW_MODELS`.

    Returns
    -------
    tuple of str
    """
    replaced = {_name(entry): entry for entry in own}
    unknown = set(replaced) - {_name(entry) for entry in TRAINING}
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not training parameters.")
    return tuple(replaced.get(_name(entry), entry) for entry in TRAINING)


def _name(entry):
    return entry.split(" :", 1)[0].strip()
