;;; mcv.el --- MiniCPM-V on images: describe, extract text, alt text -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "26.1"))
;; Keywords: multimedia, tools
;; URL: https://github.com/mcv

;;; Commentary:

;; Ask MiniCPM-V (through the `mcv' command) about images, from any buffer,
;; from dired's marked files, and in Markdown:
;;
;;   M-x mcv-describe-image     a few sentences about the image(s)
;;   M-x mcv-ocr-image          the text in the image(s), verbatim
;;   M-x mcv-ask-image          your question about an image
;;   M-x mcv-insert-alt-text    fill the alt text of the ![...](path) at point
;;
;; The image is the argument, dired's marked files, the Markdown image link at
;; point, or the image this buffer visits.  mcv runs with `make-process' and a
;; list of arguments (never a shell string); answers stream into a buffer.
;;
;; Setup (what `mcv plugins install emacs' prints):
;;   (add-to-list 'load-path "/path/to/folder/with/mcv.el")
;;   (require 'mcv)

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'subr-x)
(require 'url-util)

(declare-function dired-get-marked-files "dired")

(defgroup mcv nil
  "MiniCPM-V on images, through the mcv command."
  :group 'multimedia
  :prefix "mcv-")

(defcustom mcv-program (list (or (executable-find "mcv") "mcv"))
  "The mcv command, as a list: the program, then arguments before `ask'."
  :type '(repeat string))

(defcustom mcv-extra-arguments nil
  "Arguments added after `ask', e.g. (\"--model\" \"minicpm-v:8b\")."
  :type '(repeat string))

(defconst mcv-image-extensions
  '("png" "jpg" "jpeg" "webp" "gif" "bmp" "tif" "tiff" "heic" "heif" "avif")
  "File name extensions of the images mcv reads.")

(defconst mcv--link-regexp "!\\[\\(\\(?:\\\\.\\|[^]\\\n]\\)*\\)\\](\\([^)\n]*\\))"
  "A Markdown image: group 1 the alt text, group 2 the destination.
The alt text may hold escaped brackets, as `mcv-alt-text' writes them.")

;;;; Arguments

(defun mcv-argv (preset file &optional question)
  "The mcv argument list for PRESET (or nil) on FILE, with QUESTION in --prompt.
After the file, a question naming a file or a URL would be read as an image."
  (append mcv-program
          (list "ask" "--plain")
          mcv-extra-arguments
          (when preset (list "--preset" preset))
          (when question (list "--prompt" question))
          (list "--" file)))

(defun mcv-image-file-p (file)
  "Non-nil when FILE's extension is one of `mcv-image-extensions'."
  (and file (member (downcase (or (file-name-extension file) "")) mcv-image-extensions)))

;;;; Markdown image links

(defun mcv--destination (inside)
  "The path in a link's parentheses INSIDE.
<with spaces>, or the text less a \"title\"."
  (let ((text (string-trim inside)))
    (if (string-prefix-p "<" text)
        (let ((close (string-match ">" text)))
          (and close (substring text 1 close)))
      (replace-regexp-in-string "[ \t]+\\(\"[^\"]*\"\\|'[^']*'\\|([^)]*)\\)\\'" "" text))))

(defun mcv-link-at-point ()
  "The Markdown image link at point: (START END ALT-START ALT-END DEST), or nil."
  (save-excursion
    (let ((point (point)) found)
      (goto-char (line-beginning-position))
      (while (and (not found) (re-search-forward mcv--link-regexp (line-end-position) t))
        (when (and (>= point (match-beginning 0)) (<= point (match-end 0)))
          (setq found (list (match-beginning 0) (match-end 0) (match-beginning 1) (match-end 1)
                            (mcv--destination (match-string-no-properties 2))))))
      found)))

(defun mcv-resolve (dest directory)
  "DEST (a link destination) as an absolute file name, from DIRECTORY.
A URL is an error: only local images."
  (when (or (null dest) (string-empty-p dest))
    (user-error "mcv: the image link has no path"))
  (when (string-match-p "\\`[A-Za-z][A-Za-z0-9+.-]*://" dest)
    (user-error "mcv: only local images: %s is a URL" dest))
  (let ((file (expand-file-name dest directory)))
    (if (and (not (file-exists-p file)) (string-match-p "%[0-9A-Fa-f][0-9A-Fa-f]" dest))
        (let ((decoded (expand-file-name (decode-coding-string (url-unhex-string dest) 'utf-8) directory)))
          (if (file-exists-p decoded) decoded file))
      file)))

(defun mcv-alt-text (answer)
  "ANSWER as alt text: one line, brackets and backslashes escaped."
  (let* ((flat (string-trim (replace-regexp-in-string "[ \t\n\r]+" " " answer)))
         (unquoted (if (string-match "\\`\"\\(.*\\)\"\\'" flat) (match-string 1 flat) flat)))
    (replace-regexp-in-string "\\([][\\]\\)" "\\\\\\1" unquoted)))

(defun mcv--files (&optional prompt)
  "The images a command is about, asking with PROMPT when nothing says.
Dired's marked files, the image link at point, or this buffer's file."
  (cond
   ((derived-mode-p 'dired-mode)
    (or (seq-filter #'mcv-image-file-p (dired-get-marked-files))
        (user-error "mcv: no image among the marked files")))
   ((mcv-link-at-point)
    (list (mcv-resolve (nth 4 (mcv-link-at-point)) default-directory)))
   ((mcv-image-file-p buffer-file-name) (list buffer-file-name))
   (t (list (expand-file-name (read-file-name (or prompt "Image: ") nil nil t))))))

;;;; Running mcv

(cl-defstruct (mcv-job (:constructor mcv--make-job)) process buffer (done nil) (code nil) (output "") (error ""))

(defun mcv-run (argv &optional buffer on-done)
  "Run ARGV (a list); stream stdout to the end of BUFFER (if any).
ON-DONE is called with the job when mcv has exited.  Returns the `mcv-job'."
  (let* ((job (mcv--make-job :buffer buffer))
         (stderr (generate-new-buffer " *mcv-stderr*"))
         (process
          (make-process
           :name "mcv"
           :command argv
           :connection-type 'pipe
           :noquery t
           :coding 'utf-8
           :stderr stderr
           :filter (lambda (_process text)
                     (setf (mcv-job-output job) (concat (mcv-job-output job) text))
                     (when (buffer-live-p buffer)
                       (with-current-buffer buffer
                         (let ((inhibit-read-only t))
                           (save-excursion (goto-char (point-max)) (insert text))))))
           :sentinel (lambda (process _event)
                       (unless (process-live-p process)
                         ;; stderr arrives through its own pipe: let it finish.
                         (let ((pipe (get-buffer-process stderr)))
                           (while (and pipe (process-live-p pipe))
                             (accept-process-output pipe 0.05)))
                         (setf (mcv-job-error job)
                               (if (buffer-live-p stderr) (with-current-buffer stderr (buffer-string)) ""))
                         (kill-buffer stderr)
                         (setf (mcv-job-code job) (process-exit-status process)
                               (mcv-job-done job) t)
                         (when on-done (funcall on-done job)))))))
    (setf (mcv-job-process job) process)
    job))

(defun mcv--first-line (text)
  (car (split-string (string-trim text) "\n")))

(defun mcv--answer-buffer (title)
  (let ((buffer (generate-new-buffer (format "*mcv: %s*" title))))
    (with-current-buffer buffer
      (when (fboundp 'markdown-mode) (markdown-mode))
      (insert "# " (replace-regexp-in-string "\n" " " title) "\n\n"))
    (display-buffer buffer)
    buffer))

(defun mcv--answer-files (preset what files &optional question)
  "Ask PRESET (or QUESTION) about FILES, one after another, into one buffer.
WHAT starts the buffer's title.  Returns (:buffer B :jobs (jobs J...) :count N),
the jobs filled in as they start."
  (let* ((buffer (mcv--answer-buffer (if (cdr files) (format "%s, %d images" what (length files))
                                       (format "%s %s" what (file-name-nondirectory (car files))))))
         (jobs (list 'jobs))
         (next nil))
    (setq next
          (lambda (remaining)
            (when remaining
              (let ((file (car remaining)))
                (when (cdr files)
                  (with-current-buffer buffer
                    (save-excursion (goto-char (point-max))
                                    (insert (format "## %s\n\n" (file-name-nondirectory file))))))
                (nconc jobs
                       (list (mcv-run (mcv-argv preset file question) buffer
                                      (lambda (job)
                                        (with-current-buffer buffer
                                          (save-excursion
                                            (goto-char (point-max))
                                            (unless (zerop (mcv-job-code job))
                                              (insert "\n> mcv failed: " (mcv--first-line (mcv-job-error job)) "\n")
                                              (message "%s" (mcv--first-line (mcv-job-error job))))
                                            (when (cdr remaining) (insert "\n"))))
                                        (funcall next (cdr remaining))))))))))
    (funcall next files)
    (list :buffer buffer :jobs jobs :count (length files))))

;;;###autoload
(defun mcv-describe-image (files)
  "Describe FILES: dired's marked images, the image link at point, this image."
  (interactive (list (mcv--files "Describe image: ")))
  (mcv--answer-files "describe" "Description of" (if (listp files) files (list files))))

;;;###autoload
(defun mcv-ocr-image (files)
  "The text in FILES, verbatim."
  (interactive (list (mcv--files "Extract text from image: ")))
  (mcv--answer-files "ocr" "Text in" (if (listp files) files (list files))))

;;;###autoload
(defun mcv-ask-image (question file)
  "Ask QUESTION about FILE."
  (interactive (let ((files (mcv--files "Ask about image: ")))
                 (list (read-string "Question: ") (car files))))
  (when (string-blank-p (or question ""))
    (user-error "mcv: no question asked"))
  (mcv--answer-files nil "Answer about" (list file) (string-trim question)))

;;;###autoload
(defun mcv-insert-alt-text ()
  "Fill the alt text of the Markdown image `![...](path)' at point.
The text is put in when mcv has written it; returns the `mcv-job'."
  (interactive)
  (let ((link (mcv-link-at-point)))
    (unless link (user-error "mcv: no Markdown image ![...](path) at point"))
    (let* ((file (mcv-resolve (nth 4 link) default-directory))
           (buffer (current-buffer))
           (alt-start (copy-marker (nth 2 link)))
           (alt-end (copy-marker (nth 3 link) t))
           (old (buffer-substring-no-properties (nth 2 link) (nth 3 link))))
      (message "mcv: writing alt text for %s..." (file-name-nondirectory file))
      (mcv-run (mcv-argv "alt" file) nil
               (lambda (job)
                 (cond
                  ((not (zerop (mcv-job-code job)))
                   (message "%s" (mcv--first-line (mcv-job-error job))))
                  ((not (buffer-live-p buffer)))
                  ((not (equal (with-current-buffer buffer
                                 (buffer-substring-no-properties alt-start alt-end))
                               old))
                   (message "mcv: the alt text changed meanwhile; mcv wrote: %s" (string-trim (mcv-job-output job))))
                  (t
                   (with-current-buffer buffer
                     (save-excursion
                       (goto-char alt-start)
                       (delete-region alt-start alt-end)
                       (insert (mcv-alt-text (mcv-job-output job))))))))))))

(provide 'mcv)
;;; mcv.el ends here
