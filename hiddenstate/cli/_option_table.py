"""The estimator options of the fit commands (generated: do not edit).

Made by ``python -m hiddenstate.cli._gen_options`` from the estimator classes:
``{estimator: {parameter: (default, help line, forms)}}``, the forms being the
fields of ``hiddenstate.cli._options._Forms`` that are not at their defaults. A
parameter's row that several estimators share is in ``SHARED`` (its place in
``TABLE``: None).
"""

SHARED = {'activation': ('tanh', 'Elman cell nonlinearity', {'strings': ('relu', 'tanh')}),
 'batch_size': ('auto',
                "Minibatch size; 'auto' is min(32, n_samples), None full batch",
                {'none': True, 'strings': ('auto',), 'ints': (('int', 1, None, 'left'),)}),
 'cell': ('lstm',
          'Recurrent cell',
          {'strings': ('elman', 'gru', 'lstm'), 'registry': ('hiddenstate.nn._cells', 'CELLS')}),
 'checkpoint_dir': (None,
                    'Write the whole training state there every checkpoint_every epochs and on '
                    'Ctrl-C, atomically; the newest 3 are kept',
                    {'none': True, 'text': True}),
 'checkpoint_every': (10, 'Epochs between checkpoints', {'ints': (('int', 1, None, 'left'),)}),
 'clip_norm': (1.0,
               'Clip each gradient to this global norm',
               {'none': True, 'floats': (('float', 0, None, 'neither'),)}),
 'devices': (None,
             'Data parallelism: each minibatch is split over these devices (None: all visible '
             'devices, so one CPU trains as before and 8 GPUs share each batch; an int: the first '
             'that many)',
             {'none': True, 'ints': (('int', 1, None, 'left'),)}),
 'early_stopping': (False,
                    'Hold out validation_fraction of the rows; stop when their loss has not '
                    'improved by tol for n_iter_no_change epochs; keep the best parameters',
                    {'boolean': True}),
 'embedding_dim': (32,
                   'Size of the learned token embedding (token sequences only)',
                   {'ints': (('int', 1, None, 'left'),)}),
 'learning_rate': (0.01,
                   "Step size (the schedule's initial value)",
                   {'floats': (('float', 0, None, 'neither'),)}),
 'learning_rate_schedule': ('cosine',
                            'One of constant, cosine (to 1%% of learning_rate over max_iter '
                            'epochs), exponential, warmup_cosine, inverse_time',
                            {'strings': ('constant',
                                         'cosine',
                                         'exponential',
                                         'inverse_time',
                                         'warmup_cosine')}),
 'max_features': (None,
                  'Keep only this many of the most frequent tokens (token sequences only; None: '
                  'all)',
                  {'none': True, 'ints': (('int', 1, None, 'left'),)}),
 'min_count': (1,
               'Tokens seen fewer times in the training sequences are out of the vocabulary '
               '(token sequences only)',
               {'ints': (('int', 1, None, 'left'),)}),
 'momentum': (0.9,
              'Momentum; mu of momentum/nesterov; decay of rmsprop',
              {'floats': (('float', 0, 1, 'left'),)}),
 'n_iter_no_change': (10,
                      'Epochs without improvement before early stopping (and the window of the '
                      'ConvergenceWarning)',
                      {'ints': (('int', 1, None, 'left'),)}),
 'num_layers': (1, 'Stacked recurrent layers', {'ints': (('int', 1, None, 'left'),)}),
 'optimizer': ('adam',
               "Optimizer; momentum is the seeds' update v <- mu v - lr g; p <- p + v",
               {'strings': ('adam', 'momentum', 'nesterov', 'rmsprop', 'sgd')}),
 'random_state': (None,
                  'Seed of the initial weights, minibatch order and noise',
                  {'none': True, 'ints': (('int', 0, 4294967295, 'both'),)}),
 'resume': (False,
            'Continue fit from the newest checkpoint in checkpoint_dir (same settings and data); '
            'it ends with the same parameters, bit for bit on the CPU, as an uninterrupted run',
            {'boolean': True}),
 'shuffle': (True,
             'Reshuffle rows every epoch (False: minibatches in order, as seed 003)',
             {'boolean': True}),
 'tol': (0.0001,
         'Smallest improvement of the validation loss that counts',
         {'floats': (('float', 0, None, 'left'),)}),
 'validation_fraction': (0.1,
                         'Share of the rows held out for early stopping',
                         {'floats': (('float', 0, 1, 'neither'),)}),
 'verbose': (False, 'Show a progress bar', {'boolean': True, 'ints': (('int', 0, None, 'left'),)})}

TABLE = {'Autoencoder': {'activation': ('sigmoid',
                                "Hidden units. linear with loss='mse' learns the PCA subspace",
                                {'strings': ('linear', 'relu', 'sigmoid', 'tanh')}),
                 'alpha': (0.0,
                           'L2 weight decay, alpha/2 * sum ||W||^2',
                           {'floats': (('float', 0, None, 'left'),)}),
                 'batch_size': None,
                 'checkpoint_dir': None,
                 'checkpoint_every': None,
                 'clip_norm': (None,
                               'Clip each gradient to this global norm',
                               {'none': True, 'floats': (('float', 0, None, 'neither'),)}),
                 'devices': None,
                 'early_stopping': None,
                 'init': ('glorot_uniform',
                          'Weight initialiser (see AutoencoderNet)',
                          {'strings': ('glorot_uniform', 'normal')}),
                 'init_scale': (None,
                                'Gain of glorot_uniform (default 4 for sigmoid, 1 otherwise) or '
                                'the standard deviation of normal (default 0.01)',
                                {'none': True, 'floats': (('float', 0, None, 'neither'),)}),
                 'learning_rate': (0.02,
                                   "Step size (the schedule's initial value)",
                                   {'floats': (('float', 0, None, 'neither'),)}),
                 'learning_rate_schedule': None,
                 'loss': ('mse',
                          'Reconstruction loss; mse: squared error averaged over features; '
                          'cross_entropy: binary cross-entropy summed over features, computed '
                          "from logits (needs output='sigmoid' and inputs in [0, 1])",
                          {'strings': ('cross_entropy', 'mse')}),
                 'max_iter': (200, 'Epochs', {'ints': (('int', 1, None, 'left'),)}),
                 'momentum': None,
                 'n_components': (2,
                                  'Code size, or the sizes of the stacked hidden layers (the last '
                                  'is the code)',
                                  {'ints': (('int', 1, None, 'left'),), 'int_list': True}),
                 'n_iter_no_change': None,
                 'noise': (None,
                           'Corrupt training inputs (denoising autoencoder): zero each entry with '
                           'probability noise_level, or add N(0, noise_level**2)',
                           {'none': True, 'strings': ('gaussian', 'masking')}),
                 'noise_level': (0.1,
                                 'Masking probability, or standard deviation of the Gaussian '
                                 'noise',
                                 {'floats': (('float', 0, None, 'left'),)}),
                 'optimizer': None,
                 'output': ('linear',
                            'Output function of the reconstruction',
                            {'strings': ('linear', 'sigmoid')}),
                 'random_state': None,
                 'resume': None,
                 'shuffle': None,
                 'sparsity': (0.0,
                              'Weight of the KL sparsity penalty on the mean code activation '
                              '(sigmoid units)',
                              {'floats': (('float', 0, None, 'left'),)}),
                 'sparsity_target': (0.05,
                                     'Target mean activation of each code unit for the sparsity '
                                     'penalty',
                                     {'floats': (('float', 0, 1, 'neither'),)}),
                 'tied': (True,
                          'Use each encoder matrix W transposed as its decoder (one parameter)',
                          {'boolean': True}),
                 'tol': None,
                 'validation_fraction': None,
                 'verbose': None},
 'SequenceModel': {'activation': None,
                   'batch_size': (1,
                                  'Sequences per update (1: online, as the seed)',
                                  {'none': True,
                                   'strings': ('auto',),
                                   'ints': (('int', 1, None, 'left'),)}),
                   'bucket_lengths': (None,
                                      'The padded lengths (steps) of the training buckets; each '
                                      'sequence goes to the shortest one that holds it, and each '
                                      'minibatch comes from one bucket',
                                      {'none': True, 'int_list': True}),
                   'cell': ('lstm',
                            'The recurrent cell (any name in CELLS)',
                            {'strings': ('elman', 'gru', 'lstm'),
                             'registry': ('hiddenstate.nn._cells', 'CELLS')}),
                   'checkpoint_dir': None,
                   'checkpoint_every': None,
                   'clip_norm': (None,
                                 'Clip each gradient to this global norm',
                                 {'none': True, 'floats': (('float', 0, None, 'neither'),)}),
                   'context': ('auto',
                               'With horizon: steps read before each forecast (training windows '
                               'of this length, the loss on their second half; forecast reads the '
                               "last context steps). 'auto': max(2 * lags, 2 * horizon, 24), at "
                               'most what the training part allows',
                               {'strings': ('auto',), 'ints': (('int', 2, None, 'left'),)}),
                   'curriculum': (1,
                                  'Epochs at the start of a fresh fit that present the sequences '
                                  'from the shortest to the longest (minibatches; full-batch '
                                  'training ignores it), before shuffled epochs',
                                  {'ints': (('int', 0, None, 'left'),)}),
                   'devices': None,
                   'early_stopping': None,
                   'embedding_dim': None,
                   'forget_bias': (2.0,
                                   "Initial LSTM forget-gate bias (the cell's own default is 1)",
                                   {'floats': (None,)}),
                   'hidden_size': (32,
                                   'Hidden units of each recurrent layer',
                                   {'ints': (('int', 1, None, 'left'),)}),
                   'horizon': (None,
                               'Forecasting (real-valued series, fit(X) without Y, '
                               "output='linear'): at every step the network outputs the next "
                               'horizon values of every channel at once (direct multi-horizon '
                               'outputs, trained on the squared error over the horizons), and '
                               'forecast gives split conformal prediction intervals',
                               {'none': True, 'ints': (('int', 1, None, 'left'),)}),
                   'init': ('glorot_uniform',
                            'Weight initialiser; seed: uniform(-1, 1) divided by the largest '
                            'singular value (seed 002) for every matrix; otherwise Glorot inputs '
                            'and orthogonal recurrences',
                            {'strings': ('glorot_uniform', 'seed')}),
                   'lags': ('auto',
                            'With horizon: the order p of the linear autoregressive path beside '
                            'the recurrence (SequenceNet), initialised by least squares on the '
                            'training part, each horizon on its own (a direct autoregression), '
                            "with the recurrence's readout at zero, so training starts from that "
                            'autoregression and early stopping keeps what the recurrence adds to '
                            "it. 'auto': the order by AIC (fit_ar, up to default_max_order with "
                            'the period detect_period finds); 0: none',
                            {'strings': ('auto',), 'ints': (('int', 0, None, 'left'),)}),
                   'learning_rate': None,
                   'learning_rate_schedule': None,
                   'markers': ('auto',
                               'Reserved begin and end markers around each symbol string (symbol '
                               'strings only)',
                               {'boolean': True, 'strings': ('auto',)}),
                   'max_features': None,
                   'max_iter': (8, 'Epochs', {'ints': (('int', 1, None, 'left'),)}),
                   'min_count': None,
                   'missing': ('error',
                               'Missing values (NaN, masked steps) of real-valued sequences: '
                               'refused with their position, or filled by linear interpolation '
                               'along their channel',
                               {'strings': ('error', 'interpolate')}),
                   'momentum': None,
                   'n_iter_no_change': None,
                   'num_layers': None,
                   'optimizer': None,
                   'output': ('softmax',
                              'Output of each step and its loss: softmax cross-entropy (next '
                              'symbol), sigmoid cross-entropy (multi-hot targets) or squared '
                              'error (values)',
                              {'strings': ('linear', 'sigmoid', 'softmax')}),
                   'random_state': None,
                   'resume': None,
                   'scale': ('auto',
                             'Scaling of real-valued sequences (per channel to mean 0 and '
                             'variance 1, to [0, 1], each sequence by its own statistics, or '
                             'none), fitted on the training sequences, stored in the model file '
                             'and undone in every prediction and forecast (values come back in '
                             "the data's units; score and score_samples stay in scaled units). "
                             "'auto': 'standard' (per-channel mean 0, variance 1) for real-valued "
                             'sequences; symbol strings and token sequences are never scaled '
                             "(they take 'auto' or 'none')",
                             {'strings': ('auto', 'minmax', 'none', 'series', 'standard')}),
                   'shuffle': None,
                   'tol': None,
                   'validation_fraction': None,
                   'verbose': None},
 'SequenceAutoencoder': {'batch_size': None,
                         'cell': None,
                         'checkpoint_dir': None,
                         'checkpoint_every': None,
                         'clip_norm': None,
                         'devices': None,
                         'early_stopping': None,
                         'embedding_dim': None,
                         'learning_rate': None,
                         'learning_rate_schedule': None,
                         'max_features': None,
                         'max_iter': (100, 'Epochs', {'ints': (('int', 1, None, 'left'),)}),
                         'min_count': None,
                         'missing': ('error',
                                     'Missing values (NaN, masked steps) of real-valued '
                                     'sequences: refused with their sequence, step and feature, '
                                     'or filled by linear interpolation along the steps of their '
                                     'channel, at fit and at every later call',
                                     {'strings': ('error', 'interpolate')}),
                         'momentum': None,
                         'n_components': (32,
                                          'Code size (hidden units of both cells)',
                                          {'ints': (('int', 1, None, 'left'),)}),
                         'n_iter_no_change': None,
                         'optimizer': None,
                         'random_state': None,
                         'resume': None,
                         'scale': ('auto',
                                   'How real-valued sequences are scaled before the network reads '
                                   'them (auto: standard)',
                                   {'strings': ('auto', 'minmax', 'none', 'series', 'standard')}),
                         'shuffle': None,
                         'tokenizer': ('default',
                                       'How a sequence given as a string becomes words, at fit '
                                       'and at every later call (stored in the model file): '
                                       '"default" lower-cases and splits the punctuation at the '
                                       'ends of words off ("Absolutely BRILLIANT!" -> absolutely '
                                       "brilliant !; don't, co-writer/director, 1,000 stay whole; "
                                       'see tokenize); "whitespace" splits on whitespace and '
                                       'keeps case (the rule of model files saved before this '
                                       'setting, which load with it)',
                                       {'strings': ('default', 'whitespace')}),
                         'tol': None,
                         'validation_fraction': None,
                         'verbose': None},
 'SequenceClassifier': {'activation': None,
                        'analyzer': ('word',
                                     'How a string becomes tokens: split into words (by '
                                     'tokenizer), or every character a token (symbol strings such '
                                     'as "BTSXSE"; case kept)',
                                     {'strings': ('char', 'word')}),
                        'batch_size': None,
                        'bidirectional': (False,
                                          'Read each sequence backwards too (a second direction '
                                          'in each layer)',
                                          {'boolean': True}),
                        'cell': None,
                        'checkpoint_dir': None,
                        'checkpoint_every': None,
                        'class_weight': (None,
                                         "Weight of each class in the loss ('balanced': n / (k * "
                                         'count))',
                                         {'none': True,
                                          'strings': ('balanced',),
                                          'mapping': True}),
                        'clip_norm': None,
                        'devices': None,
                        'dropout': (0.0,
                                    "Fraction of each layer's outputs dropped in training "
                                    '(between layers, and the sequence vector before the output '
                                    'layer)',
                                    {'floats': (('float', 0, 1, 'left'),)}),
                        'early_stopping': None,
                        'embedding_dim': (64,
                                          'Size of the token embedding (token input only)',
                                          {'ints': (('int', 1, None, 'left'),)}),
                        'encoder': ('auto',
                                    'The network that reads a sequence into one vector: the '
                                    'recurrent layers, the convolutional blocks of FCN, or both '
                                    'side by side (real-valued input only; cell, num_layers, '
                                    'bidirectional, pooling and input_dropout apply to the '
                                    "recurrent part). 'auto': 'recurrent' for tokens (and with "
                                    "init_from), 'conv' for real-valued sequences ('recurrent' "
                                    'when their median length is below 8)',
                                    {'strings': ('auto', 'conv', 'conv+recurrent', 'recurrent')}),
                        'forget_bias': (2.0, 'Initial LSTM forget-gate bias', {'floats': (None,)}),
                        'hidden_size': (64,
                                        'Hidden units of each layer and direction',
                                        {'ints': (('int', 1, None, 'left'),)}),
                        'init': ('glorot_uniform',
                                 'Weight scheme of the cells and the output layer (see '
                                 'SequenceModel)',
                                 {'strings': ('glorot_uniform', 'seed')}),
                        'input_dropout': (0.0,
                                          'Fraction of input features (embedding entries) dropped '
                                          'at each step in training',
                                          {'floats': (('float', 0, 1, 'left'),)}),
                        'learning_rate': (0.003,
                                          "Step size (the schedule's initial value)",
                                          {'floats': (('float', 0, None, 'neither'),)}),
                        'learning_rate_schedule': None,
                        'max_features': (None,
                                         'Keep at most this many tokens, the most frequent',
                                         {'none': True, 'ints': (('int', 1, None, 'left'),)}),
                        'max_iter': ('auto',
                                     'Epochs',
                                     {'strings': ('auto',), 'ints': (('int', 1, None, 'left'),)}),
                        'min_count': (1,
                                      'Tokens seen fewer times in training are out of the '
                                      'vocabulary',
                                      {'ints': (('int', 1, None, 'left'),)}),
                        'missing': ('error',
                                    'Missing values of real-valued input (NaN, masked steps): '
                                    'refused with their position, or filled by linear '
                                    'interpolation along the steps of their channel (the nearest '
                                    'value at either end), at fit and at every later call',
                                    {'strings': ('error', 'interpolate')}),
                        'momentum': None,
                        'n_iter_no_change': (5,
                                             'Epochs without improvement before early stopping '
                                             '(and the window of the ConvergenceWarning)',
                                             {'ints': (('int', 1, None, 'left'),)}),
                        'num_layers': None,
                        'optimizer': None,
                        'pooling': ('last',
                                    "How a sequence's hidden vectors become one: the final one "
                                    '(last), or their mean or maximum over the valid steps',
                                    {'strings': ('last', 'max', 'mean')}),
                        'random_state': None,
                        'resume': None,
                        'scale': ('auto',
                                  'Scaling of real-valued input, fitted on the training sequences '
                                  "and stored with the model ('standard': per channel to mean 0 "
                                  "and variance 1; 'minmax': per channel to [0, 1]; 'series': "
                                  'each sequence z-normalised by itself, as the UEA & UCR archive '
                                  "does; 'none'). 'auto': 'standard' for real-valued input; "
                                  'tokens are not scaled (a scale given with them is refused)',
                                  {'strings': ('auto', 'minmax', 'none', 'series', 'standard')}),
                        'shuffle': None,
                        'tokenizer': ('default',
                                      "How a string becomes words with analyzer='word', at fit "
                                      'and at every later call (stored in the model file): '
                                      '"default" lower-cases and splits the punctuation at the '
                                      'ends of words off ("Absolutely BRILLIANT!" -> absolutely '
                                      "brilliant !; don't, co-writer/director, 1,000 stay whole; "
                                      'see tokenize); "whitespace" splits on whitespace and keeps '
                                      'case (the rule of model files saved before this setting, '
                                      'which load with it)',
                                      {'strings': ('default', 'whitespace')}),
                        'tol': None,
                        'validation_fraction': None,
                        'verbose': None},
 'RecursiveAutoencoder': {'C': (0.1,
                                'Inverse regularisation of the final logistic regression',
                                {'floats': (('float', 0, None, 'neither'),)}),
                          'alpha': (0.5,
                                    "Weight of reconstruction against classification (the paper's "
                                    'alpha; it used 0.2, but 0.5 did better here on movie '
                                    'reviews, 78.9%% against 77.1%% on one 90/10 split)',
                                    {'floats': (('float', 0, 1, 'both'),)}),
                          'batch_size': (32,
                                         "Minibatch size; 'auto' is min(32, n_samples), None full "
                                         'batch',
                                         {'none': True,
                                          'strings': ('auto',),
                                          'ints': (('int', 1, None, 'left'),)}),
                          'checkpoint_dir': None,
                          'checkpoint_every': None,
                          'clip_norm': None,
                          'devices': None,
                          'early_stopping': None,
                          'l2': (0.0001,
                                 'Weight decay of the composition, reconstruction and label '
                                 'matrices',
                                 {'floats': (('float', 0, None, 'left'),)}),
                          'l2_words': (0.0001,
                                       'Weight decay of the word vectors',
                                       {'floats': (('float', 0, None, 'left'),)}),
                          'learning_rate': (0.003,
                                            "Step size (the schedule's initial value)",
                                            {'floats': (('float', 0, None, 'neither'),)}),
                          'learning_rate_schedule': None,
                          'max_iter': (5, 'Epochs', {'ints': (('int', 1, None, 'left'),)}),
                          'min_count': (1,
                                        'Words seen fewer times in training share the '
                                        'unknown-word vector',
                                        {'ints': (('int', 1, None, 'left'),)}),
                          'momentum': None,
                          'n_components': (50,
                                           'Size of word and node vectors',
                                           {'ints': (('int', 1, None, 'left'),)}),
                          'n_iter_no_change': None,
                          'optimizer': None,
                          'random_state': None,
                          'resume': None,
                          'shuffle': None,
                          'tokenizer': ('default',
                                        'How a sentence given as a string becomes words, at fit '
                                        'and at every later call (stored in the model file): '
                                        '"default" lower-cases and splits the punctuation at the '
                                        'ends of words off ("Absolutely BRILLIANT!" -> absolutely '
                                        "brilliant !; don't, co-writer/director, 1,000 stay "
                                        'whole; see tokenize); "whitespace" splits on whitespace '
                                        'and keeps case (the rule of model files saved before '
                                        'this setting, which load with it)',
                                        {'strings': ('default', 'whitespace')}),
                          'tol': None,
                          'validation_fraction': None,
                          'verbose': None,
                          'word_scale': (0.1,
                                         'Standard deviation of the random initial word vectors',
                                         {'floats': (('float', 0, None, 'neither'),)})},
 'AnomalyDetector': {'contamination': ('auto',
                                       'Contamination',
                                       {'strings': ('auto',),
                                        'floats': (('float', 0, 0.5, 'right'),)}),
                     'calibration_fraction': (0.2,
                                              'Calibration fraction',
                                              {'floats': (('float', 0, 1, 'neither'),)}),
                     'aggregate': ('mean', 'Aggregate', {'strings': ('max', 'mean', 'sum')})}}
