from kubesync.cli import main

raise SystemExit(main())
