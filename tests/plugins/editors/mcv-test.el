;;; mcv-test.el --- ERT tests for mcv.el  -*- lexical-binding: t; -*-
;; Run by tests/plugins/editors/test_editor_emacs.py with emacs --batch -Q.
;; MCV_TEST_MODE=stub: a recording stand-in mcv; MCV_TEST_MODE=real: the real mcv and the Ollama stand-in.

(require 'ert)
(require 'json)
(require 'dired)
(require 'mcv)

(setq mcv-program (append (json-read-from-string (getenv "MCV_TEST_CMD")) nil))
(defvar mcv-test-dir (file-name-as-directory (getenv "MCV_TEST_DIR")))
(defvar mcv-test-mode (getenv "MCV_TEST_MODE"))

(defun mcv-test-wait (job)
  (should job)
  (let ((deadline (+ (float-time) 60)))
    (while (and (not (mcv-job-done job)) (< (float-time) deadline))
      (accept-process-output nil 0.05)))
  (should (mcv-job-done job)))

(defun mcv-test-wait-all (run)
  "Wait for every job of RUN (what mcv--answer-files returns)."
  (let ((deadline (+ (float-time) 120)))
    (while (and (< (float-time) deadline)
                (not (and (= (length (cdr (plist-get run :jobs))) (plist-get run :count))
                          (cl-every #'mcv-job-done (cdr (plist-get run :jobs))))))
      (accept-process-output nil 0.05)))
  (cdr (plist-get run :jobs)))

(defun mcv-test-last-argv ()
  (with-temp-buffer
    (insert-file-contents (getenv "MCV_STUB_LOG"))
    (goto-char (point-max))
    (forward-line -1)
    (append (json-read) nil)))

(ert-deftest mcv-test-pure-parts ()
  (should (equal (mcv-argv "ocr" "-rf x.png") (append mcv-program '("ask" "--plain" "--preset" "ocr" "--" "-rf x.png"))))
  (should (equal (mcv-argv nil "a.png" "why?") (append mcv-program '("ask" "--plain" "--prompt" "why?" "--" "a.png"))))
  (should (equal (mcv--destination " <my shots/a b.png> \"t\"") "my shots/a b.png"))
  (should (equal (mcv--destination "img/cat.png \"A title\"") "img/cat.png"))
  (should (equal (mcv--destination "photo one.jpg") "photo one.jpg"))
  (should (equal (mcv-alt-text "  A cat [asleep]\non a \\ sofa.\n") "A cat \\[asleep\\] on a \\\\ sofa."))
  (should-error (mcv-resolve "https://example.com/a.png" "/tmp/") :type 'user-error)
  (with-temp-buffer
    (insert "text ![one](a.png) and ![two](<b c.png> \"t\")")
    (goto-char 30)
    (should (equal (nth 4 (mcv-link-at-point)) "b c.png"))
    (goto-char 2)
    (should-not (mcv-link-at-point)))
  (with-temp-buffer  ; alt text mcv wrote (escaped brackets) still reads as the link
    (insert "![A \\[1\\] cat](a.png) ![b](b.png)")
    (goto-char 3)
    (should (equal (nth 4 (mcv-link-at-point)) "a.png"))))

(when (equal mcv-test-mode "stub")
  (ert-deftest mcv-test-hostile-names-stream ()
    (dolist (name '("-rf x.png" "q\"$(id)'`.png" "semi;colon | pipe.png" "new\nline.png" "plain.png"))
      (let* ((file (concat mcv-test-dir name))
             (run (mcv-describe-image (list file)))
             (jobs (mcv-test-wait-all run)))
        (should (= 0 (mcv-job-code (car jobs))))
        (should (equal (mcv-test-last-argv) (list "ask" "--plain" "--preset" "describe" "--" file)))
        (with-current-buffer (plist-get run :buffer)
          (should (string-suffix-p "\n\nFirst part of the describe answer, [second] part.\nLast line.\n" (buffer-string)))))))

  (ert-deftest mcv-test-dired-marked-files ()
    (let ((buffer (dired-noselect mcv-test-dir)))
      (with-current-buffer buffer
        (dired-goto-file (concat mcv-test-dir "plain.png"))
        (dired-mark 1)
        (dired-goto-file (concat mcv-test-dir "notes.txt"))
        (dired-mark 1)
        (dired-goto-file (concat mcv-test-dir "-rf x.png"))
        (dired-mark 1)
        (let* ((run (call-interactively #'mcv-ocr-image))
               (jobs (mcv-test-wait-all run)))
          (should (= 2 (length jobs)))  ; notes.txt is no image
          (should (equal (nth 3 (mcv-test-last-argv)) "ocr"))
          (with-current-buffer (plist-get run :buffer)
            (should (string-match-p "## -rf x.png" (buffer-string)))
            (should (string-match-p "## plain.png" (buffer-string))))))
      (kill-buffer buffer)))

  (ert-deftest mcv-test-failure-is-shown ()
    (let* ((run (mcv-describe-image (list (concat mcv-test-dir "fail.png"))))
           (jobs (mcv-test-wait-all run)))
      (should (= 2 (mcv-job-code (car jobs))))
      (with-current-buffer (plist-get run :buffer)
        (should (string-match-p "> mcv failed: mcv: error: fail.png: not an image" (buffer-string))))))

  (ert-deftest mcv-test-ask ()
    (should-error (mcv-ask-image "  " (concat mcv-test-dir "plain.png")) :type 'user-error)  ; mcv not started
    (let* ((run (mcv-ask-image " what is -- this? " (concat mcv-test-dir "plain.png"))))
      (mcv-test-wait-all run)
      (should (equal (mcv-test-last-argv) (list "ask" "--plain" "--prompt" "what is -- this?" "--" (concat mcv-test-dir "plain.png"))))))

  (ert-deftest mcv-test-insert-alt-text ()
    (with-temp-buffer
      (setq default-directory mcv-test-dir)
      (insert "intro\nbefore ![old](<-rf x.png> \"t\") after ![keep](plain.png)\n")
      (goto-char (point-min))
      (forward-line 1)
      (forward-char 10)
      (let ((job (mcv-insert-alt-text)))
        (mcv-test-wait job)
        (should (equal (mcv-test-last-argv) (list "ask" "--plain" "--preset" "alt" "--" (concat mcv-test-dir "-rf x.png"))))
        (should (equal (buffer-string)
                       "intro\nbefore ![First part of the alt answer, \\[second\\] part. Last line.](<-rf x.png> \"t\") after ![keep](plain.png)\n"))))))

(when (equal mcv-test-mode "real")
  (ert-deftest mcv-test-real-mcv ()
    (let* ((photo (getenv "MCV_TEST_PHOTO"))
           (run (mcv-describe-image (list photo)))
           (jobs (mcv-test-wait-all run)))
      (should (= 0 (mcv-job-code (car jobs))))
      (with-current-buffer (plist-get run :buffer)
        (should (string-suffix-p "\n\nA red square on a white table.\n" (buffer-string))))
      ;; a one-word question naming a file where mcv runs stays the question
      (let* ((default-directory (file-name-directory photo))
             (jobs (mcv-test-wait-all (mcv-ask-image (getenv "MCV_TEST_QUESTION") photo))))
        (should (= 0 (mcv-job-code (car jobs)))))
      (with-temp-buffer
        (setq default-directory (file-name-directory photo))
        (insert (format "![](%s)\n" (file-name-nondirectory photo)))
        (goto-char (point-min))
        (mcv-test-wait (mcv-insert-alt-text))
        (should (equal (buffer-string) (format "![A red square on a white table.](%s)\n" (file-name-nondirectory photo))))))))

;;; mcv-test.el ends here
